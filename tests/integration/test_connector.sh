#!/bin/bash
# The council connector against the simulator over real HTTP: OAuth2 client
# credentials (token cached, refreshed before expiry, fetched again after a
# 401, secrets never logged), concurrent requests capped by
# remote.max_concurrent, and an XML web service synced through the
# mapping's XPaths.
set -u
. "$(dirname "$0")/lib.sh"

CS() { "$BUILD/casesync" -c "$CONF" "$@"; }
stat_of() { sim_json /_sim/stats "d['$1']"; }

# A fresh database for each part of the script.
fresh_db() {
	export PGDATABASE="cs_connector_$$_$1"
	createdb "$PGDATABASE" || exit 1
}
# A field of a JSON record from /_sim/dump (no token needed).
dumped() { # COLLECTION ID PYTHON_EXPR_ON_r
	curl -sf "$SIM_URL/_sim/dump" | python3 -c "
import json, sys
d = json.load(sys.stdin)
r = [x for x in d['collections']['$1'] if x['id'] == '$2'][0]
print($3)"
}
# Waits (up to 20 s) until the shell expression is true.
wait_for() {
	for _ in $(seq 200); do eval "$1" && return 0; sleep 0.1; done
	return 1
}

fresh_db 1
SECRET='s3cret-Canary-7731'
mkdir -p "$T/creds"
printf '%s\n' "$SECRET" >"$T/creds/lcs-secret"
chmod 600 "$T/creds/lcs-secret"

# --- OAuth2 client credentials -------------------------------------------------
start_sim_args --fixture "$ROOT/tests/fixtures/lcs-persons.json" \
	--oauth-client "casesync-test:$SECRET" --oauth-token-ttl 3600
CONF="$T/casesync.conf"
write_config "$CONF"
sed -i "s|^transport = http|transport = http\noauth_token_url = $SIM_URL/oauth/token\noauth_client_id = casesync-test\noauth_client_secret_file = lcs-secret|" "$CONF"
CS migrate --with-demo-store >/dev/null 2>&1
ok $? "migrate"
daemon_config "$CONF" "$T/daemon.conf"
DCONF="$T/daemon.conf"

curl -s -o /dev/null -w '%{http_code}' "$SIM_URL/api/v1/persons/100101" >"$T/code"
is "$(cat "$T/code")" "401" "the simulator refuses a request without a token"
curl -sf -X POST "$SIM_URL/_sim/reset" >/dev/null

env -u CREDENTIALS_DIRECTORY "$BUILD/casesyncd" -c "$DCONF" --once 2>"$T/nocred.log"
rc=$?
[ $rc -ne 0 ] && grep -q 'needs \$CREDENTIALS_DIRECTORY' "$T/nocred.log"
ok $? "a relative secret file without \$CREDENTIALS_DIRECTORY is refused at start"

CREDENTIALS_DIRECTORY="$T/creds" "$BUILD/casesyncd" -c "$DCONF" --once 2>"$T/o1.log"
ok $? "a cycle with OAuth2 succeeds"
is "$(sql "select count(*) from casestore.person where la_child_id in ('100101','100102','100103')")" \
	"3" "the council's persons arrived through authorised requests"
reqs=$(stat_of requests)
is "$(stat_of tokens_issued)" "1" "one token served every request of the cycle ($reqs requests)"
is "$(stat_of unauthorized)" "0" "no request went out without a valid token"
grep -q 'event=oauth_token ' "$T/o1.log"
ok $? "getting a token is logged"
! grep -qiE "$SECRET|bearer|access_token" "$T/o1.log" "$T/sim.err"
ok $? "neither the secret nor the token reaches a log"

# A token the council revoked: the next request gets 401, a new token is
# fetched once and the request sent again.
sed 's/^\[daemon\]/[daemon]\npoll_interval_s = 1/' "$DCONF" >"$T/long.conf"
curl -sf -X POST "$SIM_URL/_sim/reset" >/dev/null
CREDENTIALS_DIRECTORY="$T/creds" "$BUILD/casesyncd" -c "$T/long.conf" 2>"$T/long.log" &
DPID=$!
wait_for '[ "$(stat_of tokens_issued)" = 1 ] && grep -q "event=cycle_done" "$T/long.log"'
ok $? "the long-running daemon got its first token and finished a cycle"
curl -sf -X POST "$SIM_URL/_sim/oauth/expire" >/dev/null
sql "update casestore.person set family_name = 'AfterRevoke' where la_child_id = '100102'"
wait_for '[ "$(dumped persons 100102 "r[\"name\"][\"surname\"]" 2>/dev/null)" = AfterRevoke ]' 
ok $? "after the council revoked the token, the change still reached it"
is "$(stat_of tokens_issued)" "2" "exactly one new token was fetched"
grep -q 'event=oauth_token_rejected' "$T/long.log"
ok $? "the 401 and the new token are logged"
kill -TERM $DPID; wait $DPID 2>/dev/null

# Refresh before expiry: tokens live 3 s, the daemon cycles every second.
# Without the refresh a cycle would send an expired token and get 401s.
stop_sim
start_sim_args --fixture "$ROOT/tests/fixtures/lcs-persons.json" \
	--oauth-client "casesync-test:$SECRET" --oauth-token-ttl 3 --port "$SIM_PORT"
CREDENTIALS_DIRECTORY="$T/creds" "$BUILD/casesyncd" -c "$T/long.conf" 2>"$T/refresh.log" &
DPID=$!
sleep 7
kill -TERM $DPID; wait $DPID 2>/dev/null
n_tok=$(stat_of tokens_issued)
[ "$n_tok" -ge 3 ]
ok $? "short-lived tokens are renewed before they expire ($n_tok tokens in 7 s)"
is "$(stat_of unauthorized)" "0" "no request carried an expired token"
grep -q 'expires_in_s=3 refresh_in_s=2' "$T/refresh.log"
ok $? "a 3 s token is renewed a second early, not a minute (margin capped at half its life)"

# Wrong secret: refused, nothing sent, nothing logged of the secret.
printf 'not-the-secret\n' >"$T/creds/wrong"
sed 's/^oauth_client_secret_file = .*/oauth_client_secret_file = wrong/' "$DCONF" >"$T/wrong.conf"
curl -sf -X POST "$SIM_URL/_sim/reset" >/dev/null
CREDENTIALS_DIRECTORY="$T/creds" "$BUILD/casesyncd" -c "$T/wrong.conf" --once 2>"$T/wrong.log"
rc=$?
[ $rc -ne 0 ] && grep -q 'event=oauth_token_failed status=401 error=invalid_client' "$T/wrong.log"
ok $? "a refused client secret fails the cycle and names the OAuth error code"
is "$(stat_of writes)" "0" "nothing reached the API without a token"
! grep -q 'not-the-secret' "$T/wrong.log"
ok $? "the refused secret is not logged"
stop_sim

# --- concurrent requests ------------------------------------------------------------
fresh_db 2
start_sim "$ROOT/tests/fixtures/lcs-persons.json"
write_config "$CONF"
CS migrate --with-demo-store >/dev/null 2>&1
daemon_config "$CONF" "$DCONF"
"$BUILD/casesyncd" -c "$DCONF" --once 2>/dev/null
ok $? "first cycle (no OAuth)"
for i in $(seq 12); do
	sql "insert into casestore.person (given_name, family_name, date_of_birth, gender)
	     values ('Con$i', 'Current', '2018-01-01', '1')"
done
curl -sf -X POST "$SIM_URL/_sim/reset" >/dev/null
curl -sf -o /dev/null -X POST "$SIM_URL/_sim/faults" \
	-d '{"rules":[{"match":"POST /api/v1/persons","times":100,"fault":"delay","ms":300}]}'
sed 's/^max_retries = 1/max_retries = 1\nmax_concurrent = 4/' "$DCONF" >"$T/c4.conf"
"$BUILD/casesyncd" -c "$T/c4.conf" --once 2>"$T/c4.log"
ok $? "a cycle creating 12 records at the council with max_concurrent = 4"
is "$(sql "select count(*) from casestore.person where family_name = 'Current' and la_child_id is not null")" \
	"12" "all 12 got the council's id back"
is "$(stat_of max_inflight)" "4" "four requests were in flight at once, and no more"
is "$(sql "select count(*) from casesync.audit where action = 'create_remote'")" "12" \
	"one audit row per record created"

# The same with one request at a time, on a fresh pair (a reset simulator
# would forget the records created above).
stop_sim
fresh_db 4
start_sim "$ROOT/tests/fixtures/lcs-persons.json"
write_config "$CONF"
CS migrate --with-demo-store >/dev/null 2>&1
daemon_config "$CONF" "$DCONF"
for i in $(seq 4); do
	sql "insert into casestore.person (given_name, family_name, date_of_birth, gender)
	     values ('One$i', 'AtATime', '2018-01-01', '1')"
done
curl -sf -o /dev/null -X POST "$SIM_URL/_sim/faults" \
	-d '{"rules":[{"match":"POST /api/v1/persons","times":100,"fault":"delay","ms":200}]}'
sed 's/^max_retries = 1/max_retries = 1\nmax_concurrent = 1/' "$DCONF" >"$T/c1.conf"
"$BUILD/casesyncd" -c "$T/c1.conf" --once 2>"$T/c1.log"
rc=$?
[ $rc -eq 0 ] || sed 's/^/#   /' "$T/c1.log"
ok $rc "a cycle with max_concurrent = 1"
is "$(sql "select count(*) from casestore.person where family_name = 'AtATime' and la_child_id is not null")" \
	"4" "all four were created"

# SIGTERM while a retry waits out a long Retry-After: the wait ends at once.
curl -sf -o /dev/null -X POST "$SIM_URL/_sim/faults" -d '{"rules":[{"match":"GET /api/v1/persons/changes",
	"times":100,"fault":"status","status":503,"retry_after":"25"}]}'
sed 's/^max_retries = 1/max_retries = 3/' "$DCONF" >"$T/wait.conf"
"$BUILD/casesyncd" -c "$T/wait.conf" 2>"$T/wait.log" &
DPID=$!
wait_for 'grep -q "event=http_retry" "$T/wait.log"'
ok $? "the daemon is waiting to retry after a 503 with Retry-After: 25"
start=$SECONDS
kill -TERM $DPID; wait $DPID 2>/dev/null
took=$((SECONDS - start))
[ $took -le 5 ]
ok $? "SIGTERM ends the wait: the daemon stopped in ${took} s, not after the 25 s wait"
grep -q 'event=http_cancelled' "$T/wait.log"
ok $? "the abandoned request is logged as cancelled"
is "$(stat_of max_inflight)" "1" "max_concurrent = 1 sends one request at a time"
stop_sim

# --- an XML web service --------------------------------------------------------------
fresh_db 3
cat >"$T/children.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<Message>
  <Children>
    <Child>
      <ChildIdentifiers><LAchildID>XW0001</LAchildID><PersonBirthDate>2016-04-01</PersonBirthDate><GenderCurrent>1</GenderCurrent></ChildIdentifiers>
      <ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>
      <CINdetails><CINreferralDate>2021-05-06</CINreferralDate><ReferralSource>1A</ReferralSource><PrimaryNeedCode>N1</PrimaryNeedCode></CINdetails>
    </Child>
    <Child>
      <ChildIdentifiers><LAchildID>XW0002</LAchildID><PersonBirthDate>2017-09-12</PersonBirthDate><GenderCurrent>2</GenderCurrent></ChildIdentifiers>
      <ChildCharacteristics><Ethnicity>MWBC</Ethnicity><Disabilities><Disability>HAND</Disability><Disability>AUT</Disability></Disabilities></ChildCharacteristics>
    </Child>
    <Child>
      <ChildIdentifiers><LAchildID>XW0003</LAchildID><PersonBirthDate>2015-02-30</PersonBirthDate><GenderCurrent>1</GenderCurrent></ChildIdentifiers>
    </Child>
  </Children>
</Message>
XML
start_sim_args --cin-fixture "$T/children.xml"
write_config "$CONF"
sed -i "s|^use = lcs-rest|use = lcs-xml|; s|^url = .*|url = $SIM_URL/xml/v1|" "$CONF"
CS migrate --with-demo-store >/dev/null 2>&1
ok $? "migrate with the lcs-xml mapping"
daemon_config "$CONF" "$DCONF"
"$BUILD/casesyncd" -c "$DCONF" --once 2>"$T/x1.log"
ok $? "a cycle against the XML web service"
is "$(sql "select la_child_id || '|' || date_of_birth || '|' || gender || '|' || ethnicity || '|' || coalesce(disabilities, '-')
           from casestore.person order by la_child_id")" \
	"$(printf 'XW0001|2016-04-01|1|WBRI|-\nXW0002|2017-09-12|2|MWBC|AUT,HAND')" \
	"the council's XML records are read through the mapping's XPaths"
is "$(sql "select remote_id || '|' || source from casesync.quarantine")" "XW0003|feed" \
	"the record with an impossible date is quarantined by its id"
! grep -q '2015-02-30' "$T/x1.log"
ok $? "the quarantine reason carries no value"

sql "update casestore.person set gender = '2', disabilities = 'HAND' where la_child_id = 'XW0001'"
"$BUILD/casesyncd" -c "$DCONF" --once 2>"$T/x2.log"
ok $? "a cycle pushing a local change as XML"
curl -sf "$SIM_URL/xml/v1/children/XW0001" >"$T/x1.xml"
is "$(xmllint --xpath 'concat(/Child/ChildIdentifiers/GenderCurrent, "|", /Child/ChildCharacteristics/Disabilities/Disability, "|", /Child/@version)' "$T/x1.xml")" \
	"2|HAND|2" "the council's record carries the change, one version on"
is "$(xmllint --xpath 'concat(/Child/CINdetails/CINreferralDate, "|", /Child/CINdetails/PrimaryNeedCode)' "$T/x1.xml")" \
	"2021-05-06|N1" "the unmapped CIN details survived the update"
is "$(xmllint --xpath 'name(/Child/ChildCharacteristics/*[2])' "$T/x1.xml")" "Disabilities" \
	"a new element is placed in schema order"
curl -sf "$SIM_URL/_sim/requests" | python3 -c "
import json, sys
r = [x for x in json.load(sys.stdin)['requests'] if x['method'] == 'PUT']
sys.exit(0 if len(r) == 1 and r[0]['idempotency_key'] else 1)"
ok $? "the update went out once, as a PUT with an Idempotency-Key"

sql "insert into casestore.person (la_child_id, date_of_birth, gender, ethnicity)
     values ('XW0100', '2019-03-03', '1', 'WIRI')"
"$BUILD/casesyncd" -c "$DCONF" --once 2>/dev/null
ok $? "a cycle creating a record at the XML service"
new_id=$(sql "select remote_id from casesync.crosswalk where entity = 'person' and local_key =
              (select id::text from casestore.person where la_child_id = 'XW0100')")
[ -n "$new_id" ]
ok $? "the provider's new record got the council's id ($new_id)"
curl -sf "$SIM_URL/xml/v1/children/$new_id" >"$T/new.xml"
is "$(xmllint --xpath 'concat(/Child/ChildIdentifiers/LAchildID, "|", /Child/ChildCharacteristics/Ethnicity)' "$T/new.xml")" \
	"XW0100|WIRI" "the created record holds the provider's values"
"$BUILD/casesyncd" -c "$DCONF" --once 2>/dev/null
is "$(sql "select pulled || '/' || pushed from casesync.cycles order by id desc limit 1")" "0/0" \
	"the next cycle has nothing to do (no echo)"

finish
