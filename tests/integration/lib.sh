# Shared helpers for the TAP integration scripts (sourced, bash).
# Needs PG* from pg_virtualenv (tests/run), BUILD and SIM from the caller.
: "${BUILD:=build}"
: "${SIM:=$BUILD/lcs-sim}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d)
# The audit trail's keys, outside the database as in production: the HMAC
# key for the values' digests, and an Ed25519 pair for checkpoints.
AUDIT_KEY="$T/audit.key"
AUDIT_SIGN="$T/audit-sign.pem"
AUDIT_PUB="$T/audit-sign.pub"
(umask 077 && openssl rand -out "$AUDIT_KEY" 32 &&
	openssl genpkey -algorithm ed25519 -out "$AUDIT_SIGN" 2>/dev/null &&
	openssl pkey -in "$AUDIT_SIGN" -pubout -out "$AUDIT_PUB") || exit 1
# The [audit] section every test config carries.
audit_section() {
	printf '[audit]\nkey_file = %s\npublic_key_file = %s\n' "$AUDIT_KEY" "$AUDIT_PUB"
}
tap_n=0
tap_fail=0
SIM_PID=

ok() { # ok CONDITION_EXIT_STATUS DESCRIPTION
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_fail=$((tap_fail + 1))
	fi
}

is() { # is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"; echo "#   got: '$1'"; echo "#   want: '$2'"; fi
}

# A database of its own for each script, so scripts cannot disturb each other.
use_fresh_db() {
	export PGDATABASE="cs_$(basename "$0" .sh)_$$"
	createdb "$PGDATABASE" || exit 1
}

sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

start_sim() { # start_sim FIXTURE
	start_sim_args --fixture "$1"
}

start_sim_args() { # start_sim_args LCS-SIM-OPTIONS...
	rm -f "$T/port"
	"$SIM" --quiet --port-file "$T/port" "$@" 2>"$T/sim.err" &
	SIM_PID=$!
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	SIM_PORT=$(cat "$T/port")
	SIM_URL="http://127.0.0.1:$SIM_PORT"
}

stop_sim() {
	kill "$SIM_PID" 2>/dev/null
	wait "$SIM_PID" 2>/dev/null
	SIM_PID=
}

write_config() { # write_config FILE
	cat >"$1" <<CONF
[database]
conninfo =
[mappings]
dir = $ROOT/mappings
use = lcs-rest
[remote]
transport = http
url = $SIM_URL/api/v1
allow_http_loopback = true
max_retries = 1
$(audit_section)
[daemon]
instance = test-instance
log_level = info
CONF
}

# sim_get PATH PYTHON_EXPR: evaluates EXPR on the JSON answer bound to d.
sim_json() {
	curl -sf "$SIM_URL$1" | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"
}

# The usual scene: a fresh database, the simulator with the person fixture,
# and $CONF pointing at both.
setup_sync_env() {
	use_fresh_db
	start_sim "$ROOT/tests/fixtures/lcs-persons.json"
	CONF="$T/casesync.conf"
	write_config "$CONF"
}

# After migrate: a login role that is only a member of casesync_GROUP
# (daemon, datalead, auditor), with a passfile of its own, and a copy of
# config SRC that connects with it. Sets LROLE. Usage: role_config GROUP SRC DEST
role_config() {
	# pg_virtualenv exports PGPASSWORD, which libpq prefers to a passfile.
	local pw=${PGPASSWORD:-pw$$${RANDOM}x}
	role_n=$((${role_n:-0} + 1))
	LROLE="cs_$1_$(basename "$0" .sh)_$$_$role_n"
	sql "CREATE ROLE $LROLE LOGIN PASSWORD '$pw' IN ROLE casesync_$1" || exit 1
	echo "*:*:*:$LROLE:$pw" >"$T/pgpass-$LROLE"
	chmod 600 "$T/pgpass-$LROLE"
	sed "s|^conninfo =.*|conninfo = user=$LROLE host=localhost passfile=$T/pgpass-$LROLE|" \
		"$2" >"$3"
}

# The daemon under test never runs as a superuser: role_config daemon.
# Sets DROLE. Usage: daemon_config SRC DEST
daemon_config() {
	role_config daemon "$1" "$2"
	DROLE=$LROLE
}

finish() {
	if [ -n "$SIM_PID" ]; then
		kill "$SIM_PID" 2>/dev/null
		wait "$SIM_PID" 2>/dev/null
	fi
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/sim.err" 2>/dev/null; then
		ok 1 "simulator ran clean under the sanitizers"
		cat "$T/sim.err"
	fi
	rm -rf "$T"
	echo "1..$tap_n"
	[ "$tap_fail" -eq 0 ]
}
