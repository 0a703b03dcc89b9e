#!/usr/bin/env bash
# TAP test of the council simulator (tests/lcs-sim) driven with curl.
# Usage: SIM=path/to/lcs-sim bash tests/integration/test_sim.sh
set -u

SIM=${SIM:-build/lcs-sim}
FIXTURE="$(dirname "$0")/../lcs-sim/fixture-demo.json"
PLAN=88

. "$(dirname "$0")/simtap.sh"

echo "1..$PLAN"

start_sim --fixture "$FIXTURE"

# --- change feed -----------------------------------------------------------
req GET '/api/v1/persons/changes?since=0'
check "feed since=0 lists the fixture persons in order, more=false" \
	expect 200 'ids(d) == ["P-1001", "P-1002", "P-1003", "P-1004", "P-1005"] and d["next"] == "5" and d["more"] is False'

check "fixture records carry a modified time: RFC 3339 UTC with milliseconds, the load time" \
	json 'all(abs(skew(i["modified"])) < 30 for i in d["items"])'
m_fixture=$(jval 'd["items"][0]["modified"]')

req GET '/api/v1/persons/changes?limit=2'
check "feed page 1 (limit=2): two items, next=2, more=true" \
	expect 200 'ids(d) == ["P-1001", "P-1002"] and d["next"] == "2" and d["more"] is True'
page_next=$(jval 'd["next"]')

req GET "/api/v1/persons/changes?since=${page_next:-x}&limit=2"
check "feed page 2 (since=next): two items, next=4, more=true" \
	expect 200 'ids(d) == ["P-1003", "P-1004"] and d["next"] == "4" and d["more"] is True'

req GET '/api/v1/persons/changes?since=4&limit=2'
check "feed last page: one item, next=5, more=false" \
	expect 200 'ids(d) == ["P-1005"] and d["next"] == "5" and d["more"] is False'

req GET '/api/v1/persons/changes?since=5'
check "feed past the end: no items, next echoes since" \
	expect 200 'd == {"items": [], "next": "5", "more": False}'

req GET '/api/v1/persons/changes?since=abc'
check "feed with invalid since is 400" expect 400 '"error" in d'

req GET '/api/v1/referrals/changes'
check "feed of an unknown collection is 200 and empty" \
	expect 200 'd == {"items": [], "next": "0", "more": False}'

# --- GET / PUT with If-Match -------------------------------------------------
req GET /api/v1/persons/P-1002
check "GET returns the record with ETag matching its version" \
	expect 200 'd["id"] == "P-1002" and d["version"] == "3"' 'ETag="3"'
check "the answer has exactly one Date header, from the simulator's clock (no offset)" \
	near "$(date_skew)" 0 30

req PUT /api/v1/persons/P-1001 -H 'If-Match: "1"' \
	-d '{"id":"forged","version":"77","modified":"1999-01-01T00:00:00.000Z","given_name":"Changed","family_name":"Fixtureson"}'
check "PUT with current If-Match is 200, version 2, id/version/modified not taken from body" \
	expect 200 'nomod(d) == {"id": "P-1001", "version": "2", "given_name": "Changed", "family_name": "Fixtureson"} and list(d)[:3] == ["id", "version", "modified"]' 'ETag="2"'
check "the update set a new modified time: later than the fixture's, now" \
	json "abs(skew(d['modified'])) < 30 and ms(d['modified']) > ms('${m_fixture:-x}')"
m_put=$(jval 'd["modified"]')

req GET "/api/v1/persons/changes?since=5"
check "updated record appears in the feed after the previous next cursor, with its modified time" \
	expect 200 "ids(d) == ['P-1001'] and d['items'][0]['version'] == '2' and d['next'] == '6' and d['items'][0]['modified'] == '${m_put:-x}'"

req PUT /api/v1/persons/P-1001 -H 'If-Match: "1"' -d '{"given_name":"Lost"}'
check "PUT with stale If-Match is 412 reporting the current version" \
	expect 412 'd == {"error": "precondition failed", "version": "2"}'

req GET /api/v1/persons/P-1001
check "record is unchanged after the 412, modified too" \
	expect 200 "d['version'] == '2' and d['given_name'] == 'Changed' and d['modified'] == '${m_put:-x}'" 'ETag="2"'

# --- POST and Idempotency-Key ------------------------------------------------
req POST /api/v1/persons -H 'Idempotency-Key: key-1' \
	-d '{"given_name":"Newly","family_name":"Created","modified":"2099-12-31T23:59:59.999Z"}'
check "POST creates id 900001 with 201, Location and ETag, modified now (not from the body)" \
	expect 201 'nomod(d) == {"id": "900001", "version": "1", "given_name": "Newly", "family_name": "Created"} and abs(skew(d["modified"])) < 30' \
	'Location=/api/v1/persons/900001' 'ETag="1"' 'Idempotent-Replayed='

req POST /api/v1/persons -H 'Idempotency-Key: key-1' \
	-d '{"given_name":"Newly","family_name":"Created","modified":"2099-12-31T23:59:59.999Z"}'
check "replayed POST returns the same record with Idempotent-Replayed: true" \
	expect 201 'd["id"] == "900001"' 'Idempotent-Replayed=true' \
	'Location=/api/v1/persons/900001' 'ETag="1"'

req GET /_sim/dump
check "the replay did not create a second record" \
	expect 200 '[r["id"] for r in d["collections"]["persons"]] == ["P-1001", "P-1002", "P-1003", "P-1004", "P-1005", "900001"]'

req GET /_sim/stats
check "stats count 6 records and 1 replay" \
	expect 200 'd["records"] == 6 and d["replays"] == 1 and d["by_status"]["201"] == 2'

req POST /api/v1/persons -H 'Idempotency-Key: key-1' -d '{"given_name":"Other"}'
check "same Idempotency-Key with a different body is 422" \
	expect 422 'd == {"error": "idempotency key reused with a different request"}'

# --- bad requests ------------------------------------------------------------
req POST /api/v1/persons -d '{"given_name":"A","given_name":"B"}'
check "duplicate JSON member names in the body are 400" expect 400 '"error" in d'

req POST /api/v1/persons -d '[{"given_name":"A"}]'
check "a JSON array body is 400" \
	expect 400 'd == {"error": "request body must be a JSON object"}'

head -c 1048577 /dev/zero | tr '\0' ' ' >"$tmp/big"
req POST /api/v1/persons --data-binary "@$tmp/big"
check "a body over 1 MiB is 413" expect 413

req GET /api/v1/persons/P-9999
check "unknown record is 404" expect 404 'd == {"error": "record not found"}'

req GET /api/v1/persons
check "wrong method on a known path is 405" expect 405 '"error" in d' 'Allow=POST'

req GET /no/such/path
check "unknown path is 404" expect 404 '"error" in d'

# --- DELETE ------------------------------------------------------------------
req GET '/api/v1/persons/changes?since=0&limit=1000'
feed_next=$(jval 'd["next"]')
req DELETE /api/v1/persons/P-1003 -H 'If-Match: "1"'
check "DELETE with current If-Match is 204" expect 204

req GET /api/v1/persons/P-1003
check "GET after DELETE is 404" expect 404

req GET "/api/v1/persons/changes?since=${feed_next:-x}"
check "feed shows the tombstone with deleted:true, version 2 and the time of the delete" \
	expect 200 "[nomod(i) for i in d['items']] == [{'id': 'P-1003', 'version': '2', 'deleted': True}] and list(d['items'][0]) == ['id', 'version', 'modified', 'deleted'] and abs(skew(d['items'][0]['modified'])) < 30 and ms(d['items'][0]['modified']) > ms('${m_put:-x}')"

req GET /_sim/dump
check "the dump shows modified on every record, tombstones included" \
	json "all(ms(r['modified']) for r in d['collections']['persons']) and [r['modified'] for r in d['collections']['persons'] if r['id'] == 'P-1001'] == ['${m_put:-x}']"

# --- reset -------------------------------------------------------------------
req POST /_sim/reset
check "POST /_sim/reset is 204" expect 204

req GET /_sim/dump
check "reset restores the fixture exactly" \
	expect 200 'd["seq"] == "5" and list(d["collections"]) == ["persons"] and [(r["id"], r["version"], "deleted" in r) for r in d["collections"]["persons"]] == [("P-1001", "1", False), ("P-1002", "3", False), ("P-1003", "1", False), ("P-1004", "2", False), ("P-1005", "1", False)] and d["collections"]["persons"][0]["given_name"] == "Testy"'

req POST /api/v1/persons -H 'Idempotency-Key: key-1' -d '{"given_name":"Other"}'
check "after reset ids restart at 900001 and idempotency keys are forgotten" \
	expect 201 'd["id"] == "900001"' 'Idempotent-Replayed='

# --- concurrency: max_inflight ---------------------------------------------------
req GET /_sim/stats
check "stats count max_inflight: 1 after requests one at a time" \
	expect 200 'd["max_inflight"] == 1'

# Four requests held by a delay at once: three JSON, one XML.
req POST /_sim/faults -d '{"rules": [
  {"match": "GET /api/v1/persons/", "times": 3, "fault": "delay", "ms": 1500},
  {"match": "GET /xml/v1/", "times": 1, "fault": "delay", "ms": 1500}]}'
held_pids=
for p in /api/v1/persons/P-1001 /api/v1/persons/P-1002 \
	/api/v1/persons/P-1004 /xml/v1/notes/1; do
	curl -s --max-time 20 -o /dev/null -w '%{http_code}\n' "$base$p" \
		>>"$tmp/held" &
	held_pids="$held_pids $!"
done
# shellcheck disable=SC2086
wait $held_pids
req GET /_sim/stats
check "max_inflight counts the 4 requests held by a delay at the same moment, all answered after it" \
	eval 'expect 200 "d[\"max_inflight\"] == 4" && [ "$(sort "$tmp/held" | tr "\n" " ")" = "200 200 200 404 " ]'

req POST /_sim/reset
req GET /_sim/stats
check "POST /_sim/reset sets max_inflight back to 0, and the mutation counters" \
	expect 200 'd["max_inflight"] == 0 and (d["created"], d["updated"], d["deleted"]) == (0, 0, 0)'

# --- effective mutation counters; DELETE with If-Match and Idempotency-Key -----------
req POST /api/v1/persons -H 'Idempotency-Key: c-1' -d '{"given_name":"Once"}'
req POST /api/v1/persons -H 'Idempotency-Key: c-1' -d '{"given_name":"Once"}'
req PUT /api/v1/persons/900001 -H 'Idempotency-Key: c-2' -H 'If-Match: "1"' \
	-d '{"given_name":"Twice"}'
req PUT /api/v1/persons/900001 -H 'Idempotency-Key: c-2' -H 'If-Match: "1"' \
	-d '{"given_name":"Twice"}'
req PUT /api/v1/persons/900001 -H 'If-Match: "1"' -d '{"given_name":"Stale"}'
req PUT /api/v1/persons/P-9999 -d '{"given_name":"Absent"}'
req GET /_sim/stats
check "counters: a create and an update once each; replays, 412 and 404 not counted" \
	expect 200 '(d["created"], d["updated"], d["deleted"], d["replays"]) == (1, 1, 0, 2)'

req POST /_sim/faults -d '{"rules": [
  {"match": "POST /api/v1/persons", "fault": "status", "status": 503},
  {"match": "POST /api/v1/persons", "fault": "truncated"}]}'
req POST /api/v1/persons -d '{"given_name":"Refused"}'
code1=$code
req POST /api/v1/persons -d '{"given_name":"Lost answer"}'
req DELETE /_sim/faults
req GET /_sim/stats
check "a write a status fault refused is not counted, one applied under a truncated answer is" \
	eval '[ "$code1" = 503 ] && expect 200 "d[\"created\"] == 2 and d[\"writes\"] == 8"'

req DELETE /api/v1/persons/900001 -H 'Idempotency-Key: c-3' -H 'If-Match: "2"'
check "DELETE with Idempotency-Key and the current If-Match is 204" \
	expect 204 '' 'Idempotent-Replayed='
req DELETE /api/v1/persons/900001 -H 'Idempotency-Key: c-3' -H 'If-Match: "2"'
check "the replayed DELETE answers the stored 204 with Idempotent-Replayed: true, no body" \
	eval 'expect 204 "" "Idempotent-Replayed=true" && [ ! -s "$tmp/body" ]'
req DELETE /api/v1/persons/900001
check "a DELETE of an already deleted record is 404" \
	expect 404 'd == {"error": "record not found"}'
req DELETE /api/v1/persons/P-1001 -H 'If-Match: "7"'
check "a DELETE with a stale If-Match is 412, nothing deleted" \
	eval 'expect 412 "d == {\"error\": \"precondition failed\", \"version\": \"1\"}" && req GET /api/v1/persons/P-1001 && expect 200'
req GET /_sim/dump
check "the record was deleted once: tombstone at version 3" \
	expect 200 '[(r["version"], r.get("deleted")) for r in d["collections"]["persons"] if r["id"] == "900001"] == [("3", True)]'

req POST /xml/v1/notes --data-binary '<Note>x</Note>'
req PUT /xml/v1/notes/900003 --data-binary '<Note>y</Note>'
req DELETE /xml/v1/notes/900003 -H 'Idempotency-Key: c-4' -H 'If-Match: "2"'
req DELETE /xml/v1/notes/900003 -H 'Idempotency-Key: c-4' -H 'If-Match: "2"'
code1=$code
req GET /_sim/stats
check "JSON and XML count together: 3 created, 2 updated, 1+1 deleted; the replays counted as replays only" \
	eval '[ "$code1" = 204 ] && expect 200 "(d[\"created\"], d[\"updated\"], d[\"deleted\"], d[\"replays\"]) == (3, 2, 2, 4)"'

# --- logging and shutdown ----------------------------------------------------
check "request log has METHOD PATH STATUS without the query string" \
	grep -qx 'lcs-sim: GET /api/v1/persons/changes 200' "$tmp/sim.err"

check "request log never contains request bodies" \
	not grep -q -e Changed -e Newly "$tmp/sim.err"

kill -TERM "$sim_pid" 2>/dev/null
for _ in $(seq 100); do
	kill -0 "$sim_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$sim_pid" 2>/dev/null; then
	echo "# simulator ignored SIGTERM for 10 s"
	kill -KILL "$sim_pid" 2>/dev/null
fi
wait "$sim_pid"
sim_rc=$?
sim_pid=
check "simulator exits 0 on SIGTERM" test "$sim_rc" = 0

# --- OAuth2 client credentials ----------------------------------------------------
# A secret with characters that RFC 6749 (section 2.3.1) has clients
# form-encode before HTTP Basic.
secret='s3cr:t+x%&='
secret_enc='s3cr%3At%2Bx%25%26%3D'

# start ARGS... / stop: the OAuth simulators, stderr to $tmp/oauth.err.
start() { SIM_ERR="$tmp/oauth.err" start_sim "$@"; }
stop() { stop_sim; }

# token CURL_ARGS...: POST /oauth/token; the access token in $tok.
token() {
	req POST /oauth/token "$@"
	tok=$(jval 'd["access_token"]')
}

start --fixture "$FIXTURE" --oauth-client "lcs-test:$secret" --oauth-token-ttl 600

req GET /api/v1/persons/P-1001
check "OAuth on: a request without a token is 401 invalid_token with a Bearer challenge" \
	expect 401 'd == {"error": "invalid_token"}' \
	'WWW-Authenticate=Bearer error="invalid_token"'

req POST /api/v1/persons -H 'Idempotency-Key: oauth-key' -d '{"given_name":"Unauthorised"}'
check "a write without a token is 401 too" expect 401 'd == {"error": "invalid_token"}'

req POST /xml/v1/notes -H 'Authorization: Bearer 0123' --data-binary '<Note/>'
check "an XML write with an unknown token is 401" \
	expect 401 'd == {"error": "invalid_token"}' \
	'WWW-Authenticate=Bearer error="invalid_token"'

req GET /_sim/stats
check "/_sim/ needs no token; nothing was processed; unauthorized counts 3" \
	expect 200 'd["records"] == 5 and d["unauthorized"] == 3 and d["tokens_issued"] == 0 and d["by_status"] == {"401": 3}'

token -u "lcs-test:wrong" -d grant_type=client_credentials
check "a wrong client secret is 401 invalid_client with a Basic challenge, no-store" \
	expect 401 'd == {"error": "invalid_client"}' \
	'WWW-Authenticate=Basic realm="lcs-sim"' 'Cache-Control=no-store'

token -d grant_type=client_credentials
check "no client authentication at all is 401 invalid_client" \
	expect 401 'd == {"error": "invalid_client"}'

token -u "lcs-test:$secret" -d grant_type=client_credentials
check "HTTP Basic with the secret not form-encoded is 401 (RFC 6749 2.3.1)" \
	expect 401 'd == {"error": "invalid_client"}'

token -u "lcs-test:$secret_enc" -d grant_type=password
check "another grant type is 400 unsupported_grant_type" \
	expect 400 'd == {"error": "unsupported_grant_type"}'

token -u "lcs-test:$secret_enc" -d scope=cases
check "a token request without grant_type is 400 invalid_request" \
	expect 400 'd == {"error": "invalid_request"}'

token -u "lcs-test:$secret_enc" -d grant_type=client_credentials -d scope=cases
tok1=$tok
check "HTTP Basic (form-encoded parts): 200 with a Bearer token of 64 hex, expires_in, no-store" \
	expect 200 'sorted(d) == ["access_token", "expires_in", "token_type"] and len(d["access_token"]) == 64 and all(c in "0123456789abcdef" for c in d["access_token"]) and d["token_type"] == "Bearer" and d["expires_in"] == 600' \
	'Cache-Control=no-store' 'Pragma=no-cache'

token --data-urlencode client_id=lcs-test --data-urlencode "client_secret=$secret" \
	-d grant_type=client_credentials
tok2=$tok
check "client_id and client_secret as form fields also get a token, a new one" \
	eval 'expect 200 "d[\"token_type\"] == \"Bearer\"" && [ -n "$tok2" ] && [ "$tok2" != "$tok1" ]'

token -u "lcs-test:$secret_enc" --data-urlencode "client_secret=$secret" \
	-d grant_type=client_credentials
check "two client authentication methods in one request are 400 invalid_request" \
	expect 400 'd == {"error": "invalid_request"}'

req GET /oauth/token
check "GET /oauth/token is 405" expect 405 '"error" in d' 'Allow=POST'

req GET /api/v1/persons/P-1001 -H "Authorization: Bearer $tok1"
check "with an issued token the API answers (JSON)" \
	expect 200 'd["id"] == "P-1001"'

req POST /api/v1/persons -H "Authorization: bearer $tok2" \
	-H 'Idempotency-Key: oauth-key' -d '{"given_name":"Authorised"}'
check "a write with a token goes through; the key used without a token was not remembered" \
	expect 201 'd["given_name"] == "Authorised"' 'Idempotent-Replayed='

req POST /xml/v1/notes -H "Authorization: Bearer $tok1" --data-binary '<Note>ok</Note>'
check "with a token the XML API answers too" expect 201

req GET /_sim/stats
check "stats count tokens_issued 2 and unauthorized 3; token requests are not writes" \
	expect 200 'd["tokens_issued"] == 2 and d["unauthorized"] == 3 and d["writes"] == 4'

req POST /_sim/oauth/expire
check "POST /_sim/oauth/expire is 204" expect 204
req GET /api/v1/persons/P-1001 -H "Authorization: Bearer $tok1"
code1=$code
req GET /xml/v1/notes/changes -H "Authorization: Bearer $tok2"
check "after /_sim/oauth/expire every issued token is refused" \
	eval '[ "$code1" = 401 ] && expect 401 "d == {\"error\": \"invalid_token\"}"'

req GET /_sim/requests
check "the request log never holds a token or the secret, nor hashes token request bodies" \
	eval 'not grep -q -e "$tok1" -e "$tok2" -e "$secret_enc" -e "s3cr" "$tmp/body" && json "[e[\"body_sha256\"] for e in d[\"requests\"] if e[\"path\"] == \"/oauth/token\"] == [None] * 9"'

stop
check "the simulator with OAuth exits 0 on SIGTERM" test "$sim_rc" = 0
check "its log has the token requests but no token or secret" \
	eval 'grep -qx "lcs-sim: POST /oauth/token 200" "$tmp/oauth.err" && not grep -q -e "$tok1" -e "$tok2" -e s3cr "$tmp/oauth.err"'

start --quiet --oauth-client "lcs-test:$secret" --oauth-token-ttl 2
token -u "lcs-test:$secret_enc" -d grant_type=client_credentials
req GET /api/v1/persons/changes -H "Authorization: Bearer $tok"
code1=$code
sleep 2.5
req GET /api/v1/persons/changes -H "Authorization: Bearer $tok"
check "--oauth-token-ttl 2: the token works, and 2.5 s later it is refused" \
	eval '[ "$code1" = 200 ] && expect 401 "d == {\"error\": \"invalid_token\"}"'
stop

start --quiet
req POST /oauth/token -d grant_type=client_credentials
code1=$code
req GET /api/v1/persons/changes
req GET /api/v1/persons/changes
code2=$code
req GET /_sim/stats
check "without --oauth-client there is no token endpoint, no token is needed, nothing is refused" \
	eval '[ "$code1" = 404 ] && [ "$code2" = 200 ] && expect 200 "d[\"tokens_issued\"] == 0 and d[\"unauthorized\"] == 0"'
stop

# --- clock offset -----------------------------------------------------------------
# clock_is OFFSET: the last answer has one Date header, OFFSET s from now.
clock_is() { near "$(date_skew)" "$1" 30; }

SIM_ERR="$tmp/clock.err" start_sim --quiet --fixture "$FIXTURE" --clock-offset=-600
req GET /api/v1/persons/P-1001
check "--clock-offset -600: the Date header and the fixture's modified times are 600 s behind" \
	eval 'clock_is -600 && expect 200 "abs(skew(d[\"modified\"]) + 600) < 30"'

req POST /api/v1/persons -d '{"given_name":"Skewed"}'
check "a record created then has modified 600 s behind, and so has the Date" \
	eval 'clock_is -600 && expect 201 "abs(skew(d[\"modified\"]) + 600) < 30"'
m_created=$(jval 'd["modified"]')

req GET /_sim/clock
check "GET /_sim/clock answers the offset" expect 200 'd == {"offset": -600}'

req POST /_sim/clock -d '{"offset": 3600}'
check "POST /_sim/clock {\"offset\": 3600} is 200 with the new offset, and Date follows at once" \
	eval 'expect 200 "d == {\"offset\": 3600}" && clock_is 3600'

req PUT /api/v1/persons/900001 -d '{"given_name":"Ahead"}'
check "an update after the change has modified an hour ahead" \
	eval 'clock_is 3600 && expect 200 "abs(skew(d[\"modified\"]) - 3600) < 30 and ms(d[\"modified\"]) > ms(\"${m_created:-x}\")"'

req DELETE /api/v1/persons/900001
check "a 204 carries exactly one Date from the shifted clock" \
	eval '[ "$code" = 204 ] && clock_is 3600'
req GET '/api/v1/persons/changes?since=5'
check "the tombstone's modified is the delete's time on the shifted clock" \
	expect 200 'd["items"][-1]["deleted"] is True and abs(skew(d["items"][-1]["modified"]) - 3600) < 30'

req GET /api/v1/persons/P-9999
skew404=$(date_skew)
req GET /api/v1/persons
skew405=$(date_skew)
req GET /_sim/stats
skewsim=$(date_skew)
requests0=$(jval 'd["requests"]')
req POST /_sim/faults -d '{"rules": [{"match": "GET /api/v1/", "fault": "status", "status": 503}]}'
req GET /api/v1/persons/P-1001
check "404, 405, /_sim/ and injected 503 answers carry one shifted Date too" \
	eval '[ "$code" = 503 ] && clock_is 3600 && near "$skew404" 3600 30 && near "$skew405" 3600 30 && near "$skewsim" 3600 30'

bad_clock=0
for body in '{"offset": "60"}' '{"offset": 315576001}' '{"offset": -315576001}' \
	'{"offset": 1.5}' '{"offset": 1, "x": 1}' '{}' '[]' 'not json'; do
	req POST /_sim/clock -d "$body"
	[ "$code" = 400 ] || bad_clock=$((bad_clock + 1))
done
req GET /_sim/clock
check "a bad /_sim/clock body (string, out of range, fraction, extra member, not an object) is 400, nothing changes" \
	eval '[ "$bad_clock" = 0 ] && expect 200 "d == {\"offset\": 3600}"'

req POST /_sim/clock -d '{"offset": -315576000}'
req POST /api/v1/persons -d '{"given_name":"Decade"}'
check "the offset may be 10 years back" \
	expect 201 'abs(skew(d["modified"]) + 315576000) < 30'

req GET /_sim/stats
check "/_sim/clock requests are not counted in the stats" \
	expect 200 "d['requests'] == ${requests0:-x} + 2"

req POST /_sim/reset
check "POST /_sim/reset returns the clock to the command line's offset" \
	eval 'clock_is -600 && req GET /_sim/clock && expect 200 "d == {\"offset\": -600}"'
stop_sim

# bad_usage ARGS...: the simulator refuses to start with exit 2.
bad_usage() {
	"$SIM" --port 0 "$@" >/dev/null 2>"$tmp/usage.err" &
	local pid=$!
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid"
	[ $? = 2 ]
}
check "--oauth-token-ttl 0 is bad usage (exit 2)" \
	eval 'bad_usage --oauth-client a:b --oauth-token-ttl 0 && grep -q "invalid --oauth-token-ttl: 0 (1 to" "$tmp/usage.err"'
check "--oauth-token-ttl without --oauth-client is bad usage" \
	eval 'bad_usage --oauth-token-ttl 60 && grep -q "oauth-token-ttl needs --oauth-client" "$tmp/usage.err"'
check "--oauth-client without ID:SECRET is bad usage, and the value is not quoted" \
	eval 'bad_usage --oauth-client NOCOLONSECRET && grep -q "oauth-client must be ID:SECRET" "$tmp/usage.err" && not grep -q NOCOLONSECRET "$tmp/usage.err"'

bad_offsets=0
for v in abc 315576001 -315576001 1.5 '' 60s; do
	bad_usage --clock-offset "$v" && grep -q "invalid --clock-offset" "$tmp/usage.err" ||
		bad_offsets=$((bad_offsets + 1))
done
check "--clock-offset that is not an integer within 10 years, or without a value, is bad usage" \
	eval '[ "$bad_offsets" = 0 ] && bad_usage --clock-offset && grep -q "clock-offset needs a value" "$tmp/usage.err"'

check "no sanitizer report in the simulator's stderr" \
	not grep -q -e "ERROR: AddressSanitizer" -e "ERROR: LeakSanitizer" \
	-e "runtime error:" "$tmp/sim.err" "$tmp/oauth.err" "$tmp/clock.err"

sim_tap_end
