#!/bin/bash
# casesyncd's HTTPS transport against the simulator serving TLS: a good
# certificate works, a bad one (untrusted, self-signed, wrong host, expired)
# stops the cycle before any request reaches the council, and mutual TLS
# works only with the client certificate. Certificates: tests/tls/make-certs.sh.
set -u
. "$(dirname "$0")/lib.sh"
FIXTURE="$ROOT/tests/fixtures/lcs-persons.json"
C="$T/certs"

skip_all() {
	ok 0 "TLS checks # SKIP $1"
	finish
	exit $?
}

command -v openssl >/dev/null 2>&1 || skip_all "openssl not found"
sh "$ROOT/tests/tls/make-certs.sh" "$C" >"$T/certs.log" 2>&1
rc=$?
[ $rc -eq 0 ] || cat "$T/certs.log"
ok $rc "make-certs.sh writes the test CA and certificates"
[ $rc -eq 0 ] || { finish; exit 1; }

# stop_sim: stops the current simulator, if any.
stop_sim() {
	if [ -n "$SIM_PID" ]; then
		kill "$SIM_PID" 2>/dev/null
		wait "$SIM_PID" 2>/dev/null
		SIM_PID=
	fi
}

# lib.sh's exits (daemon_config) bypass finish: never leave a simulator behind.
trap stop_sim EXIT

# start_tls_sim NAME [lcs-sim args...]: a fresh HTTPS simulator serving
# $C/NAME.pem, with the person fixture. Sets SIM_PID, SIM_PORT, SIM_URL.
start_tls_sim() {
	local name=$1
	shift
	stop_sim
	rm -f "$T/port"
	"$SIM" --quiet --port-file "$T/port" --fixture "$FIXTURE" \
		--tls-cert "$C/$name.pem" --tls-key "$C/$name.key" "$@" \
		</dev/null >/dev/null 2>>"$T/sim.err" &
	SIM_PID=$!
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	SIM_PORT=$(cat "$T/port" 2>/dev/null)
	SIM_URL="https://127.0.0.1:$SIM_PORT"
	[ -n "$SIM_PORT" ]
}

# sim_counts [curl args...]: "requests/writes" that reached the current
# simulator's API (/_sim/stats does not count itself). The certificate is
# not checked here: this only reads the simulator's own counters.
sim_counts() {
	curl -sk --max-time 5 "$@" "$SIM_URL/_sim/stats" | python3 -c \
		'import json,sys; d=json.load(sys.stdin); print("%d/%d" % (d["requests"], d["writes"]))'
}

# cycle LOG [--set section.key=value...]: one casesyncd --once cycle against
# the current simulator, as the least-privileged daemon role.
cycle() {
	local log=$1
	shift
	"$BUILD/casesyncd" -c "$T/daemon.conf" --set "remote.url=$SIM_URL/api/v1" \
		"$@" --once 2>"$log"
}

# --- set-up --------------------------------------------------------------------
start_tls_sim server
rc=$?
if [ $rc -ne 0 ] && grep -q 'without TLS support' "$T/sim.err"; then
	skip_all "libmicrohttpd has no TLS support"
fi
ok $rc "the simulator serves HTTPS with --tls-cert and --tls-key"
curl -sf --max-time 5 --cacert "$C/ca.pem" "$SIM_URL/_sim/stats" >/dev/null
ok $? "curl trusts the simulator's certificate through the test CA"
curl -s --max-time 5 "http://127.0.0.1:$SIM_PORT/_sim/stats" >/dev/null
ok $((! $?)) "the HTTPS simulator does not answer plain HTTP"

use_fresh_db
SIM_URL=http://127.0.0.1:1
write_config "$T/casesync.conf"
"$BUILD/casesync" -c "$T/casesync.conf" migrate --with-demo-store >"$T/m.log" 2>&1
ok $? "migrate --with-demo-store"
daemon_config "$T/casesync.conf" "$T/daemon.conf"
# Local changes not yet pushed: captured (change_log) or folded (change_pending).
pending() {
	sql "select (select count(*) from casesync.change_log) + (select count(*) from casesync.change_pending)"
}
# A person only the provider has, so every cycle below has a body to send.
# A cycle pulls before it pushes: with the handshake refused it stops at its
# first GET, and requests/writes of 0/0 at the simulator show that nothing,
# body or not, got through. The good cycle then pushes it.
sql "insert into casestore.person (given_name, family_name, date_of_birth, gender)
     values ('Tess', 'Tlsonly', '2018-07-09', '1')"
is "$(pending)" "1" "a local change waits to be pushed"

# --- refused server certificates -------------------------------------------------
# bad_server NAME CA WHY DESCRIPTION: a fresh simulator serving NAME; with
# CA as the trusted CA file (empty: the system store), curl refuses it with
# a message matching WHY, and a daemon cycle must fail on certificate
# verification (curl 60, CURLE_PEER_FAILED_VERIFICATION), log no payload,
# and reach nothing at the council.
bad_server() {
	local name=$1 ca=$2 why=$3 desc=$4 log="$T/$1.log"
	start_tls_sim "$name" || { ok 1 "$desc: simulator started"; return; }
	curl -sS --max-time 5 ${ca:+--cacert "$ca"} "$SIM_URL/_sim/stats" 2>&1 |
		grep -qE "$why"
	ok $? "$desc: curl names the problem ($why)"
	cycle "$log" ${ca:+--set "remote.ca_file=$ca"}
	ok $((! $?)) "$desc: the cycle fails"
	grep -qE 'event=http_failed .*curl_code=60( |$)' "$log"
	ok $? "$desc: the daemon logs a certificate verification failure (curl_code=60)"
	grep -m1 'event=http_failed' "$log" | sed 's/^/#   /'
	is "$(sim_counts)" "0/0" \
		"$desc: no request and no write reached the council (requests/writes)"
	grep -qE 'Tess|Tlsonly|2018-07-09|Testwell|BEGIN' "$log"
	ok $((! $?)) "$desc: the log carries no payload"
}

# The same certificate that passes with remote.ca_file further down.
bad_server server "" 'unable to get local issuer certificate' \
	"test CA not configured (system store)"
bad_server selfsigned "$C/ca.pem" 'self[- ]signed certificate' \
	"self-signed certificate"
bad_server wronghost "$C/ca.pem" 'no alternative certificate subject name|does not match' \
	"certificate for another host"
bad_server expired "$C/ca.pem" 'certificate has expired' \
	"expired certificate"
is "$(pending)" "1" "the local change is still waiting after the refused cycles"

# --- a good certificate -----------------------------------------------------------
start_tls_sim server
cycle "$T/good.log" --set "remote.ca_file=$C/ca.pem"
rc=$?
ok $rc "valid certificate and remote.ca_file: the cycle succeeds"
[ $rc -eq 0 ] || cat "$T/good.log"
is "$(sql "select count(*) from casestore.person where la_child_id in ('100101','100102','100103')")" \
	"3" "the council's three persons reached PostgreSQL over HTTPS"
curl -sf --max-time 5 --cacert "$C/ca.pem" "$SIM_URL/_sim/dump" | grep -q '"Tlsonly"'
ok $? "the waiting local change was pushed to the council over HTTPS"
# One write for the waiting change, and one per council person telling the
# council the provider's key.
is "$(sim_counts | cut -d/ -f2)" "4" "each write reached the council once"
is "$(pending)" "0" "nothing is left waiting"

# --- mutual TLS ----------------------------------------------------------------------
start_tls_sim server --tls-client-ca "$C/client-ca.pem"
ok $? "the simulator starts with --tls-client-ca"
curl -s --max-time 5 --cacert "$C/ca.pem" "$SIM_URL/_sim/stats" >/dev/null
ok $((! $?)) "mutual TLS: curl without a client certificate is refused"
is "$(sim_counts --cert "$C/client.pem" --key "$C/client.key")" "0/0" \
	"mutual TLS: curl with the client certificate reads the stats"

cycle "$T/mtls-none.log" --set "remote.ca_file=$C/ca.pem"
ok $((! $?)) "mutual TLS: the cycle without remote.client_cert fails"
grep -qE 'event=http_(failed|retries_exhausted) .*curl_code=[1-9]' "$T/mtls-none.log"
ok $? "mutual TLS: the daemon logs the failed connection"
cycle "$T/mtls-wrong.log" --set "remote.ca_file=$C/ca.pem" \
	--set "remote.client_cert=$C/wrongclient.pem" \
	--set "remote.client_key=$C/wrongclient.key"
ok $((! $?)) "mutual TLS: a client certificate from another CA fails"
is "$(sim_counts --cert "$C/client.pem" --key "$C/client.key")" "0/0" \
	"mutual TLS: nothing reached the council without a valid client certificate"

cycle "$T/mtls.log" --set "remote.ca_file=$C/ca.pem" \
	--set "remote.client_cert=$C/client.pem" \
	--set "remote.client_key=$C/client.key"
rc=$?
ok $rc "mutual TLS: the cycle with remote.client_cert and client_key succeeds"
[ $rc -eq 0 ] || cat "$T/mtls.log"
n=$(sim_counts --cert "$C/client.pem" --key "$C/client.key" | cut -d/ -f1)
[ "${n:-0}" -gt 0 ]
ok $? "mutual TLS: the daemon's requests reached the council ($n)"

stop_sim
finish
