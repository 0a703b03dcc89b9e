#!/bin/bash
# casesyncd's HTTP transport (daemon/transport_http.c) end to end, against
# faults injected in the council simulator (POST /_sim/faults): a retried
# write keeps its Idempotency-Key and body, Retry-After is clamped, answers
# over the size cap, truncated or malformed are refused with nothing
# applied, resets, blackholes and trickles end in bounded time, only the
# retryable statuses are retried, and the log carries no bodies, tokens or
# query strings.
set -u
. "$(dirname "$0")/lib.sh"
setup_sync_env
FEED=/api/v1/persons/changes
SIM2_PID=
RA_PID=

stop_sim2() {
	if [ -n "$SIM2_PID" ]; then
		kill "$SIM2_PID" 2>/dev/null
		wait "$SIM2_PID" 2>/dev/null
		SIM2_PID=
	fi
}
# lib.sh's exits (daemon_config) bypass finish: leave nothing behind (a
# simulator left running also holds the caller's stdout open).
trap '[ -n "$RA_PID" ] && kill "$RA_PID" 2>/dev/null; stop_sim2
[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null' EXIT

# faults JSON: replaces the simulator's fault rules.
faults() {
	curl -sf -o /dev/null -X POST --data "$1" "$SIM_URL/_sim/faults" ||
		echo "# the simulator refused the fault rules $1"
}

# fresh: no fault rules and an empty request log.
fresh() {
	curl -sf -o /dev/null -X DELETE "$SIM_URL/_sim/faults"
	curl -sf -o /dev/null -X DELETE "$SIM_URL/_sim/requests"
}

# reqs PYTHON_EXPR: prints the expression over the simulator's request log:
# r is every recorded request, feed those for the person feed, puts and
# posts the writes.
reqs() {
	curl -sf "$SIM_URL/_sim/requests" | python3 -c 'import json, sys
r = json.load(sys.stdin)["requests"]
feed = [x for x in r if x["path"] == sys.argv[2]]
puts = [x for x in r if x["method"] == "PUT"]
posts = [x for x in r if x["method"] == "POST"]
print(eval(sys.argv[1]))' "$1" "$FEED"
}

# cycle NAME [--set section.key=value...]: one casesyncd --once cycle with
# its stderr in $T/NAME.log; sets rc and ms (wall time).
cycle() {
	local name=$1 t0
	shift
	t0=$(date +%s%N)
	"$BUILD/casesyncd" -c "$T/d.conf" --once "$@" 2>"$T/$name.log"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
}

# council_rename ID FORENAME: a council worker edits a person.
council_rename() {
	curl -sf "$SIM_URL/api/v1/persons/$1" |
		python3 -c 'import json, sys
d = json.load(sys.stdin); d["name"]["forename"] = sys.argv[1]; print(json.dumps(d))' "$2" |
		curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' \
			--data @- "$SIM_URL/api/v1/persons/$1"
}

local_given() { sql "select given_name from casestore.person where la_child_id = '$1'"; }
cursor() { sql "select value from casesync.cursors where name = 'remote:person'"; }
version() { sim_json "/api/v1/persons/$1" "d['version']"; }

"$BUILD/casesync" -c "$CONF" migrate --with-demo-store >/dev/null 2>&1
ok $? "migrate --with-demo-store"
daemon_config "$CONF" "$T/d.conf"

# --- Retry-After: 99999, in the background ------------------------------------
# Clamped to the transport's cap (BACKOFF_CAP_MS, 30 s) this check takes 30 s,
# so it runs against a simulator and a database of its own while the others
# run; its results are checked at the end.
DB2="${PGDATABASE}_ra"
createdb "$DB2" &&
	PGDATABASE=$DB2 "$BUILD/casesync" -c "$CONF" migrate --with-demo-store >/dev/null 2>&1
ok $? "a second database for the Retry-After: 99999 check"
"$SIM" --quiet --port-file "$T/port2" --fixture "$ROOT/tests/fixtures/lcs-persons.json" \
	2>"$T/sim2.err" &
SIM2_PID=$!
for _ in $(seq 100); do [ -s "$T/port2" ] && break; sleep 0.05; done
SIM2_URL="http://127.0.0.1:$(cat "$T/port2")"
curl -sf -o /dev/null -X POST "$SIM2_URL/_sim/faults" --data \
	'{"rules":[{"match":"GET /api/v1/persons/changes","fault":"status","status":503,"retry_after":"99999"}]}'
ok $? "a second simulator answers the person feed once with 503 and Retry-After: 99999"
(
	t0=$(date +%s%N)
	PGDATABASE=$DB2 "$BUILD/casesyncd" -c "$T/d.conf" --once \
		--set remote.url="$SIM2_URL/api/v1" --set remote.max_retries=1 \
		2>"$T/ra99999.log"
	echo "$? $((($(date +%s%N) - t0) / 1000000))" >"$T/ra99999.res"
) &
RA_PID=$!

cycle first
is "$rc" "0" "a first cycle without faults takes the council's persons"

# --- a retried write keeps its Idempotency-Key and body ---------------------------
fresh
v0=$(version 100101)
sql "update casestore.person set family_name = 'Retriedput' where la_child_id = '100101'"
faults '{"rules":[{"match":"PUT /api/v1/persons/","fault":"status","status":503}]}'
cycle put503
is "$rc" "0" "a PUT answered 503 is retried and the cycle succeeds"
is "$(reqs '[(x["status"], x["fault"]) for x in puts]')" "[(503, 'status'), (200, None)]" \
	"the PUT reached the council twice: 503 (injected), then 200"
is "$(reqs 'puts[0]["idempotency_key"] is not None and puts[0]["idempotency_key"] == puts[1]["idempotency_key"]')" \
	"True" "both PUT attempts carry the same Idempotency-Key"
is "$(reqs 'puts[0]["body_bytes"] > 0 and puts[0]["body_sha256"] == puts[1]["body_sha256"]')" \
	"True" "both PUT attempts carry the same body (SHA-256)"
is "$(version 100101)|$(sim_json /api/v1/persons/100101 "d['name']['surname']")" \
	"$((v0 + 1))|Retriedput" "the change is applied once at the council (version + 1)"

fresh
sql "insert into casestore.person (given_name, family_name, date_of_birth, gender)
     values ('Pat', 'Retriedpost', '2018-03-04', '2')"
faults '{"rules":[{"match":"POST /api/v1/persons","fault":"status","status":503}]}'
cycle post503
is "$rc|$(reqs '[x["status"] for x in posts]')" "0|[503, 201]" \
	"a POST answered 503 is retried (503, then 201) and the cycle succeeds"
is "$(reqs 'posts[0]["idempotency_key"] is not None and posts[0]["idempotency_key"] == posts[1]["idempotency_key"] and posts[0]["body_sha256"] == posts[1]["body_sha256"]')" \
	"True" "both POST attempts carry the same Idempotency-Key and body"
is "$(curl -sf "$SIM_URL/_sim/dump" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(sum(1 for p in d["collections"]["persons"] if p.get("name", {}).get("surname") == "Retriedpost"))')" \
	"1" "the new person is created once at the council"

# The council applies the write but its answer is cut short: only the same
# key on the retry keeps the write from being applied twice.
fresh
v0=$(version 100102)
replays0=$(sim_json /_sim/stats "d['replays']")
sql "update casestore.person set family_name = 'Lostanswer' where la_child_id = '100102'"
faults '{"rules":[{"match":"PUT /api/v1/persons/","fault":"truncated"}]}'
cycle putcut
is "$rc|$(reqs '[(x["status"], x["fault"]) for x in puts]')" "0|[(200, 'truncated'), (200, None)]" \
	"a PUT whose answer was cut short after the council applied it is retried"
is "$(reqs 'puts[0]["idempotency_key"] == puts[1]["idempotency_key"] and puts[0]["body_sha256"] == puts[1]["body_sha256"]')" \
	"True" "the retry carries the same Idempotency-Key and body"
is "$(version 100102)|$(sim_json /_sim/stats "d['replays'] - $replays0")" "$((v0 + 1))|1" \
	"the council replays the retry: the change is applied once"

# Reset before the body was read: resent (by libcurl on a reused
# connection, or by the transport) with the same key.
fresh
v0=$(version 100101)
sql "update casestore.person set family_name = 'Resetwrite' where la_child_id = '100101'"
faults '{"rules":[{"match":"PUT /api/v1/persons/","fault":"reset","when":"headers"}]}'
cycle putreset
is "$rc|$(reqs '[(x["fault"], x["status"]) for x in puts]')" "0|[('reset', None), (None, 200)]" \
	"a PUT reset before its body was read is retried and the cycle succeeds"
is "$(reqs 'puts[0]["idempotency_key"] is not None and puts[0]["idempotency_key"] == puts[1]["idempotency_key"]')|$(version 100101)" \
	"True|$((v0 + 1))" "the retry carries the same Idempotency-Key; applied once"

# --- Retry-After: -5 -------------------------------------------------------------
# Not a valid Retry-After: it counts as absent, so the retries follow the
# jittered backoff (uniform in [0, 200 * 2^(n-1)] ms), neither "at once"
# nor a parse failure. Three retries: that all three draws are 0 has a
# probability near 1e-8.
fresh
faults '{"rules":[{"match":"GET /api/v1/persons/changes","times":3,"fault":"status","status":503,"retry_after":"-5"}]}'
cycle ra-5 --set remote.max_retries=3
is "$rc|$(reqs '[x["status"] for x in feed]')" "0|[503, 503, 503, 200]" \
	"Retry-After: -5: retried max_retries (3) times, no more, then the cycle succeeds"
sed -n 's/.*event=http_retry .*delay_ms=\([0-9]*\).*/\1/p' "$T/ra-5.log" | python3 -c 'import sys
d = [int(x) for x in sys.stdin.read().split()]
print("# delays (ms):", d)
sys.exit(0 if len(d) == 3 and all(v <= 200 << i for i, v in enumerate(d)) and sum(d) > 0 else 1)'
ok $? "Retry-After: -5 counts as absent: jittered exponential backoff, not instant retries"
[ "$ms" -lt 10000 ]
ok $? "the Retry-After: -5 cycle ends in bounded time (${ms} ms)"

# --- the response-size cap -----------------------------------------------------
fresh
council_rename 100102 Bigpage
cur0=$(cursor)
faults '{"rules":[{"match":"GET /api/v1/persons/changes","fault":"big","bytes":8192}]}'
cycle big --set remote.max_response_bytes=4096
is "$rc|$(reqs 'len(feed)')" "1|1" \
	"an answer over remote.max_response_bytes (Content-Length) fails the cycle, without a retry"
grep -q 'event=http_response_too_large method=GET limit=4096' "$T/big.log"
ok $? "the oversized answer is logged as http_response_too_large"
faults '{"rules":[{"match":"GET /api/v1/persons/changes","fault":"big","bytes":8192,"chunked":true}]}'
cycle bigchunked --set remote.max_response_bytes=4096
is "$rc" "1" "a chunked answer over the cap (counted as bytes arrive) fails the cycle"
grep -q 'event=http_response_too_large method=GET limit=4096' "$T/bigchunked.log"
ok $? "the chunked oversized answer is logged as http_response_too_large"
is "$(local_given 100102)|$(cursor)" "Ben|$cur0" \
	"nothing from the oversized pages was applied, the feed cursor did not move"
fresh
cycle afterbig --set remote.max_response_bytes=4096
is "$rc|$(local_given 100102)" "0|Bigpage" \
	"without the fault the same page, under the cap, is applied"

# --- truncated and malformed answers ------------------------------------------------
fresh
council_rename 100103 Cutshort
cur0=$(cursor)
faults '{"rules":[{"match":"GET /api/v1/persons/changes","times":2,"fault":"truncated"}]}'
cycle trunc
is "$rc|$(reqs '[x["fault"] for x in feed]')" "1|['truncated', 'truncated']" \
	"a truncated answer is retried, then fails the cycle"
grep -q 'event=http_retries_exhausted method=GET attempts=2 status=0 curl_code=18 ' "$T/trunc.log"
ok $? "the truncated transfer is logged (curl_code=18, partial file)"
faults '{"rules":[{"match":"GET /api/v1/persons/changes","fault":"malformed"}]}'
cycle malformed
is "$rc|$(reqs '[x["fault"] for x in feed][2:]')" "1|['malformed']" \
	"a 200 answer that is not JSON fails the cycle, without a retry"
grep -q 'event=remote_bad_payload what=changes' "$T/malformed.log"
ok $? "the malformed answer is logged as remote_bad_payload"
is "$(local_given 100103)|$(cursor)" "Cleo|$cur0" \
	"nothing from the truncated or malformed pages was applied, the cursor did not move"
fresh
cycle aftercut
is "$rc|$(local_given 100103)" "0|Cutshort" "without the fault the page is applied"

# --- connection reset, blackhole, trickle, refused connection ------------------------
# libcurl itself resends a request once when a reused keep-alive connection
# dies before any answer, so each of the transport's attempts may reach the
# simulator twice.
fresh
faults '{"rules":[{"match":"GET /api/v1/persons/changes","times":10,"fault":"reset"}]}'
cycle reset
is "$rc|$(reqs 'all(x["fault"] == "reset" for x in feed) and 2 <= len(feed) <= 4')" "1|True" \
	"a connection reset is retried (2 attempts, each at most 2 requests), then fails the cycle"
grep -q 'event=http_retries_exhausted method=GET attempts=2 status=0 curl_code=56 ' "$T/reset.log"
ok $? "the reset is logged (curl_code=56, receive failure)"
[ "$ms" -lt 10000 ]
ok $? "the reset cycle ends in bounded time (${ms} ms)"

fresh
faults '{"rules":[{"match":"GET /api/v1/persons/changes","times":2,"fault":"blackhole","ms":20000}]}'
cycle blackhole --set remote.timeout_ms=1000 --set remote.connect_timeout_ms=500
is "$rc|$(reqs '[x["fault"] for x in feed]')" "1|['blackhole', 'blackhole']" \
	"a request never answered times out, is retried, then fails the cycle"
grep -q 'event=http_retries_exhausted method=GET attempts=2 status=0 curl_code=28 ' "$T/blackhole.log"
ok $? "the blackhole is logged as a timeout (curl_code=28)"
[ "$ms" -ge 2000 ] && [ "$ms" -lt 10000 ]
ok $? "the blackhole cycle ends in bounded time (${ms} ms: two 1 s timeouts, not the 20 s hold)"

fresh
faults '{"rules":[{"match":"GET /api/v1/persons/changes","times":2,"fault":"trickle","ms":1000,"bytes":1}]}'
cycle trickle --set remote.timeout_ms=1500
is "$rc|$(reqs '[x["fault"] for x in feed]')" "1|['trickle', 'trickle']" \
	"an answer trickling at 1 byte/s times out, is retried, then fails the cycle"
grep -q 'event=http_retries_exhausted method=GET attempts=2 status=0 curl_code=28 ' "$T/trickle.log"
ok $? "the trickle is logged as a timeout (curl_code=28)"
[ "$ms" -ge 3000 ] && [ "$ms" -lt 12000 ]
ok $? "the trickle cycle ends in bounded time (${ms} ms: two 1.5 s timeouts)"

closed_port=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cycle refused --set remote.url="http://127.0.0.1:$closed_port/api/v1" \
	--set remote.connect_timeout_ms=500
is "$rc" "1" "a refused connection fails the cycle"
grep -q 'event=http_retries_exhausted method=GET attempts=2 status=0 curl_code=7 ' "$T/refused.log"
ok $? "the refused connection is retried once, then logged (curl_code=7)"

# --- which statuses are retried ------------------------------------------------------
for st in 408 429 502 503 504; do
	fresh
	faults "{\"rules\":[{\"match\":\"GET /api/v1/persons/changes\",\"fault\":\"status\",\"status\":$st}]}"
	cycle "st$st"
	is "$rc|$(reqs '[x["status"] for x in feed]')" "0|[$st, 200]" \
		"$st is retried (then 200) and the cycle succeeds"
done
for st in 400 404 409; do
	fresh
	faults "{\"rules\":[{\"match\":\"GET /api/v1/persons/changes\",\"fault\":\"status\",\"status\":$st}]}"
	cycle "st$st"
	is "$rc|$(reqs '[x["status"] for x in feed]')" "1|[$st]" \
		"$st is not retried: one request, the cycle fails"
done

# --- the simulator's fault and request-log endpoints ------------------------------------
fresh
faults '{"rules":[{"match":"GET /api/v1/persons/","times":3,"fault":"delay","ms":0}]}'
code=$(curl -s -o "$T/bad.json" -w '%{http_code}' -X POST "$SIM_URL/_sim/faults" \
	--data '{"rules":[{"match":"GET /x","fault":"delay","ms":1},{"match":"GET /x","fault":"status","status":503,"ms":5}]}')
is "$code|$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["rule"], d["problem"])' "$T/bad.json")" \
	"400|1 a member does not apply to this fault" "an invalid rule set is refused with the rule's index and a fixed problem text"
curl -sf -o /dev/null "$SIM_URL/api/v1/persons/100101"
is "$(sim_json /_sim/faults "[(r['match'], r['remaining'], r['applied']) for r in d['rules']]")" \
	"[('GET /api/v1/persons/', 2, 1)]" "the rules in force are unchanged; GET /_sim/faults counts their use"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$SIM_URL/_sim/faults" \
	--data '{"rules":[{"match":"GET /_sim/stats","fault":"reset"}]}')
is "$code" "400" "/_sim/ paths cannot be faulted"
stats0=$(sim_json /_sim/stats "d['requests']")
curl -sf -o /dev/null "$SIM_URL/api/v1/persons/[1-105]" 2>/dev/null
is "$(reqs 'len(r), r[0]["n"], r[-1]["n"]')|$(sim_json /_sim/stats "d['requests'] - $stats0")" \
	"(100, 7, 106)|105" "the request log keeps the last 100 requests; the test controls are not counted in the stats"

# --- Retry-After: 99999, the results ------------------------------------------------
wait "$RA_PID"
RA_PID=
read -r ra_rc ra_ms <"$T/ra99999.res"
is "$ra_rc" "0" "Retry-After: 99999: the retry comes and the cycle succeeds"
grep -q 'event=http_retry method=GET attempt=1 status=503 curl_code=0 delay_ms=30000$' "$T/ra99999.log"
ok $? "Retry-After: 99999 is clamped to the transport's 30 s cap"
[ "$ra_ms" -ge 29000 ] && [ "$ra_ms" -lt 45000 ]
ok $? "the Retry-After: 99999 cycle took ${ra_ms} ms: the clamped 30 s, not 99999 s"
is "$(curl -sf "$SIM2_URL/_sim/requests" | python3 -c 'import json, sys
print([x["status"] for x in json.load(sys.stdin)["requests"] if x["path"] == "/api/v1/persons/changes"])')" \
	"[503, 200]" "after Retry-After: 99999 the feed was asked exactly twice"
stop_sim2
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/sim2.err"; then
	ok 1 "the second simulator ran clean under the sanitizers"
	cat "$T/sim2.err"
fi

# --- what the log never carries ------------------------------------------------------
cat "$T"/*.log >"$T/all-daemon.txt"
! grep -qE '\?|since=|&limit=' "$T/all-daemon.txt"
ok $? "no daemon log line carries a query string"
! grep -qiE 'Testwell|Samplefield|Mockford|Retriedput|Retriedpost|Lostanswer|Resetwrite|Bigpage|Cutshort|Z80120|2014-05-02' "$T/all-daemon.txt"
ok $? "no daemon log line carries a payload value (names, UPN, date of birth)"
! grep -qiE '_padding|xxxxxxxx|injected fault|"items"|\{"' "$T/all-daemon.txt"
ok $? "no daemon log line carries an answer body"
! grep -qiE 'bearer|authorization|idempotency-key' "$T/all-daemon.txt"
ok $? "no daemon log line carries a token or request headers"

trap - EXIT
finish
