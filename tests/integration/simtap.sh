# Shared by the simulator's own TAP scripts (test_sim.sh, test_sim_xml.sh),
# which drive lcs-sim with curl and need no database. Sourced after SIM and
# PLAN are set.
tmp=$(mktemp -d) || exit 1
sim_pid=
n=0
failed=0

cleanup() {
	if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
		kill -KILL "$sim_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# check DESCRIPTION COMMAND...: one TAP line from the command's status.
check() {
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
	fi
}

skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}

not() { ! "$@"; }

# req METHOD PATH [curl args...]: status in $code, body and headers in files.
req() {
	local method=$1 path=$2
	shift 2
	code=$(curl -s --max-time 20 -o "$tmp/body" -D "$tmp/hdr" \
		-w '%{http_code}' -X "$method" "$base$path" "$@")
}

header() {
	grep -i "^$1:" "$tmp/hdr" | head -n 1 | sed 's/^[^:]*:[ \t]*//; s/[ \t\r]*$//'
}

# Python helpers for the simulator's "modified" times, shared by json and
# the XML scripts: ms(s) is the epoch milliseconds of an RFC 3339 UTC time
# with milliseconds ("2026-11-24T10:15:30.123Z"), None for anything else;
# skew(s) its distance in seconds from now (date -u +%s, passed in argv[3]);
# nomod(d) a JSON record without its "modified" member.
PY_MODIFIED='import calendar, re, time
def ms(s):
    if not isinstance(s, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", s):
        return None
    try:
        t = time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return calendar.timegm(t) * 1000 + int(s[20:23])
def skew(s):
    return None if ms(s) is None else ms(s) / 1000 - int(sys.argv[3])
nomod = lambda d: {k: v for k, v in d.items() if k != "modified"}
'

# json PYTHON_EXPR: true when the expression holds for the body, bound to
# `d`; ids(d) lists the ids of a feed page; ms, skew and nomod as above.
json() {
	python3 -c 'import json, sys
'"$PY_MODIFIED"'
ids = lambda d: [i["id"] for i in d["items"]]
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$tmp/body" "$1" "$(date -u +%s)" 2>/dev/null
}

# jval PYTHON_EXPR: prints the expression's value for the body as `d`.
jval() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$tmp/body" "$1" 2>/dev/null
}

# date_skew: the last answer's Date header minus the local clock
# (date -u +%s) in seconds; empty unless there was exactly one Date header,
# an IMF-fixdate such as "Tue, 24 Nov 2026 10:15:30 GMT".
date_skew() {
	local now
	now=$(date -u +%s)
	[ "$(grep -ci '^date:' "$tmp/hdr")" = 1 ] || return 0
	python3 -c 'import calendar, re, sys, time
d = sys.argv[1]
if re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT", d):
    ts = calendar.timegm(time.strptime(d, "%a, %d %b %Y %H:%M:%S GMT"))
    if time.strftime("%a", time.gmtime(ts)) == d[:3]:
        print(ts - int(sys.argv[2]))' "$(header Date)" "$now" 2>/dev/null
}

# near VALUE WANT TOLERANCE: VALUE is an integer within WANT +- TOLERANCE.
near() {
	[[ "$1" =~ ^-?[0-9]+$ ]] && [ "$1" -ge $(($2 - $3)) ] &&
		[ "$1" -le $(($2 + $3)) ]
}

# expect STATUS [PYTHON_EXPR [Header=value...]]: the last response had
# STATUS, its body satisfies the expression (skipped when empty) and each
# header has exactly that value ("Header=" means absent).
expect() {
	local status=$1 expr=${2:-} spec
	[ "$code" = "$status" ] || return 1
	if [ -n "$expr" ]; then
		json "$expr" || return 1
	fi
	shift 2 2>/dev/null || shift
	for spec in "$@"; do
		[ "$(header "${spec%%=*}")" = "${spec#*=}" ] || return 1
	done
}

# start_sim ARGS...: a simulator on a free port, stderr appended to
# $SIM_ERR (default $tmp/sim.err); sets sim_pid, port and base.
start_sim() {
	rm -f "$tmp/port"
	"$SIM" --port 0 --port-file "$tmp/port" "$@" 2>>"${SIM_ERR:-$tmp/sim.err}" &
	sim_pid=$!
	for _ in $(seq 100); do
		[ -s "$tmp/port" ] && break
		kill -0 "$sim_pid" 2>/dev/null || break
		sleep 0.05
	done
	port=$(cat "$tmp/port" 2>/dev/null)
	[ -n "$port" ] || echo "# simulator did not start"
	base="http://127.0.0.1:${port:-1}"
}

# stop_sim: SIGTERM, wait; the exit status in sim_rc.
stop_sim() {
	kill -TERM "$sim_pid" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$sim_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$sim_pid" 2>/dev/null
	wait "$sim_pid"
	sim_rc=$?
	sim_pid=
}

# sim_tap_end: the simulator's stderr when something failed, and the plan
# check; the script's exit status.
sim_tap_end() {
	if [ "$failed" -ne 0 ]; then
		sed 's/^/# sim: /' "$tmp/sim.err" 2>/dev/null | head -n 200
	fi
	if [ "$n" -ne "$PLAN" ]; then
		echo "# planned $PLAN tests but ran $n"
		exit 1
	fi
	[ "$failed" -eq 0 ]
}
