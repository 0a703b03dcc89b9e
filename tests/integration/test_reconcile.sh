#!/bin/bash
# casesync reconcile and casesync status against a real PostgreSQL and the
# council simulator: after a cycle both sides agree; then each kind of
# difference is made by hand and reported, in every format, with values
# only on request; a small feed page gives the same answer over several
# requests; status counts what waits.
set -u
. "$(dirname "$0")/lib.sh"
setup_sync_env
CS="$BUILD/casesync -c $CONF"
bail() { echo "Bail out! $1"; exit 1; }

$CS migrate --with-demo-store >"$T/m.out" 2>&1 || { cat "$T/m.out"; exit 1; }
daemon_config "$CONF" "$T/daemon.conf"
CSD="$BUILD/casesyncd -c $T/daemon.conf"
# reconcile and status run with the daemon's role: no superuser rights.
RC="$BUILD/casesync -c $T/daemon.conf reconcile"
ST="$BUILD/casesync -c $T/daemon.conf status"

# A person only the provider has: the cycle creates it at the council.
sql "insert into casestore.person (given_name, family_name, date_of_birth, gender)
     values ('Dee', 'Localonly', '2019-02-03', '2')"
$CSD --once 2>"$T/c1.log" || { cat "$T/c1.log"; exit 1; }

# --- both sides agree -----------------------------------------------------------
$RC >"$T/r0.out" 2>"$T/r0.err"
is "$?" "0" "reconcile exits 0 right after a sync cycle"
grep -q '^all records in sync$' "$T/r0.out" && ! grep -q '^ENTITY' "$T/r0.out"
ok $? "it reports all records in sync and lists none"
is "$(awk '$1 == "person" {print $2 "/" $3}' "$T/r0.out")" "4/4" \
	"the summary counts the four persons examined, all in sync"
grep -q 'person: 4 council records in 1 page' "$T/r0.err" && ! grep -q 'council records' "$T/r0.out"
ok $? "progress goes to standard error"
$RC --all >"$T/r0all.out" 2>/dev/null
is "$(awk '$4 == "in_sync"' "$T/r0all.out" | wc -l)" "4" "--all lists the records in sync too"
$RC --format json >"$T/r0.json" 2>/dev/null
is "$(python3 -c "import json; d=json.load(open('$T/r0.json')); print(len(d['records']), d['summary']['total']['in_sync'], d['summary']['in_sync'])")" \
	"0 4 True" "json: no records listed, four in sync"

# --- each kind of difference ---------------------------------------------------------
k101=$(sql "select id from casestore.person where la_child_id = '100101'")
k102=$(sql "select id from casestore.person where la_child_id = '100102'")
k103=$(sql "select id from casestore.person where la_child_id = '100103'")
# The council renames 100101.
curl -sf "$SIM_URL/api/v1/persons/100101" >"$T/p.json"
python3 -c "import json; d=json.load(open('$T/p.json')); d['name']['surname']='Councilrenamed'; print(json.dumps(d))" >"$T/p2.json"
curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' --data @"$T/p2.json" \
	"$SIM_URL/api/v1/persons/100101" || bail "the simulator refused the PUT"
# The council creates a person the provider has not got.
new_remote=$(curl -sf -X POST -H 'Content-Type: application/json' \
	--data '{"name": {"forename": "Eve", "surname": "Councilonly"}, "dateOfBirth": "2018-03-04", "gender": "F"}' \
	"$SIM_URL/api/v1/persons" | python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
[ -n "$new_remote" ] || bail "the simulator refused the POST"
# The provider creates one the council has not got.
k_local=$(sql "insert into casestore.person (given_name, family_name, date_of_birth, gender)
               values ('Fay', 'Provideronly', '2017-07-07', '1') returning id")
# The council deletes 100102; the provider still holds it.
curl -sf -o /dev/null -X DELETE "$SIM_URL/api/v1/persons/100102" ||
	bail "the simulator refused the DELETE"
# A record the council created and deleted before any cycle: deleted on both.
gone=$(curl -sf -X POST -H 'Content-Type: application/json' --data '{"name": {"surname": "Brief"}}' \
	"$SIM_URL/api/v1/persons" | python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
curl -sf -o /dev/null -X DELETE "$SIM_URL/api/v1/persons/$gone"
# A data lead has a conflict open on 100103.
sql "insert into casesync.conflicts (entity, local_key, remote_id, fields)
     values ('person', '$k103', '100103', '{}')"

$RC >"$T/r1.out" 2>"$T/r1.err"
is "$?" "1" "reconcile exits 1 when the sides differ"
line() { awk -v k="$1" -v r="$2" '$2 == k && $3 == r' "$T/r1.out"; }
is "$(line "$k101" 100101 | awk '{print $1, $4, $5}')" "person differs family_name" \
	"a field changed at the council: differs, naming the field"
is "$(line - "$new_remote" | awk '{print $4}')" "missing_local" \
	"a record only the council has: missing_local"
is "$(line "$k_local" - | awk '{print $4}')" "missing_remote" \
	"a record only the provider has: missing_remote"
is "$(line "$k102" 100102 | awk '{print $4}')" "missing_remote" \
	"a record the council deleted and the provider still has: missing_remote"
is "$(line "$k103" 100103 | awk '{print $4}')" "conflict" \
	"a record with an open conflict: conflict"
grep -q ' missing_local$' "$T/r1.out" && ! grep -q "$gone" "$T/r1.out"
ok $? "a record deleted on both sides is not listed"
is "$(awk '$1 == "total" {print $2, $3, $4, $5, $6, $7, $8, $9}' "$T/r1.out")" \
	"7 1 1 1 2 1 0 1" \
	"summary: examined in_sync differs missing_local missing_remote conflict unreadable deleted"
grep -q '^5 records not in sync$' "$T/r1.out"
ok $? "the text summary says how many records are not in sync"
grep -q ' differs  *family_name$' "$T/r1.out" &&
	! grep -qE 'Councilrenamed|Testwell|Provideronly|Councilonly|Eve|Fay' "$T/r1.out" "$T/r1.err"
ok $? "no values, names or surnames without --show-values"

$RC --show-values >"$T/r1v.out" 2>/dev/null
grep -q "family_name: local \"Testwell\" council \"Councilrenamed\"" "$T/r1v.out"
ok $? "--show-values shows the provider's and the council's value of the field"

# CSV
$RC --format csv >"$T/r1.csv" 2>"$T/r1csv.err"
is "$?" "1" "csv: exit 1 too"
cat >"$T/check_csv.py" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8')))
print(','.join(rows[0]))
body = rows[1:]
print(len(body), ' '.join(sorted(r[3] for r in body)))
d = [r for r in body if r[3] == 'differs'][0]
print(d[4], repr(d[6]), repr(d[7]))
EOF
python3 "$T/check_csv.py" "$T/r1.csv" >"$T/csv.out" 2>&1
is "$(sed -n 1p "$T/csv.out")" \
	"entity,local_key,remote_id,status,fields,reason,local_values,remote_values" \
	"csv: one header row with the columns"
is "$(sed -n 2p "$T/csv.out")" \
	"5 conflict differs missing_local missing_remote missing_remote" \
	"csv: one row per record not in sync"
is "$(sed -n 3p "$T/csv.out")" "family_name '' ''" "csv: values empty without --show-values"
grep -q '^total ' "$T/r1csv.err" && ! grep -q '^total' "$T/r1.csv"
ok $? "csv: the file holds records only; the summary goes to standard error"
$RC --format csv --show-values >"$T/r1v.csv" 2>/dev/null
python3 "$T/check_csv.py" "$T/r1v.csv" >"$T/csvv.out" 2>&1
is "$(sed -n 3p "$T/csvv.out")" \
	"family_name '{\"family_name\":\"Testwell\"}' '{\"family_name\":\"Councilrenamed\"}'" \
	"csv --show-values: the values as JSON objects"

# JSON
$RC --format json >"$T/r1.json" 2>/dev/null
is "$?" "1" "json: exit 1 too"
cat >"$T/check_json.py" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
t = d['summary']['total']
print(len(d['records']), t['examined'], t['differs'], t['missing_local'],
      t['missing_remote'], t['conflict'], t['deleted'], d['summary']['in_sync'],
      d['summary']['entities']['person']['examined'])
r = [r for r in d['records'] if r['status'] == 'differs'][0]
print(r['entity'], r['local_key'], r['remote_id'], r['fields'], 'values' in r)
print(json.dumps(r.get('values'), sort_keys=True))
EOF
python3 "$T/check_json.py" "$T/r1.json" >"$T/json.out" 2>&1
is "$(sed -n 1p "$T/json.out")" "5 7 1 1 2 1 1 False 7" "json parses: records and summary"
is "$(sed -n 2p "$T/json.out")" "person $k101 100101 ['family_name'] False" \
	"json: the differing record names its field, without values"
$RC --format json --show-values >"$T/r1v.json" 2>/dev/null
python3 "$T/check_json.py" "$T/r1v.json" >"$T/jsonv.out" 2>&1
is "$(sed -n 3p "$T/jsonv.out")" \
	'{"family_name": {"local": "Testwell", "remote": "Councilrenamed"}}' \
	"json --show-values: the local and council values"

# HTML (the contract's fourth format)
$RC --format html >"$T/r1.html" 2>/dev/null
is "$?" "1" "html: exit 1 too"
python3 -c "
import html.parser, sys
class P(html.parser.HTMLParser):
    cells = []
    def handle_data(self, d): self.cells.append(d)
p = P(); p.feed(open('$T/r1.html').read()); print('missing_local' in p.cells and 'family_name' in p.cells)" \
	>"$T/html.out" 2>&1
is "$(cat "$T/html.out")" "True" "html: a table of the records"

# --output writes a private file, only when complete
$RC --format json --output "$T/report.json" >"$T/stdout.out" 2>/dev/null
is "$?" "1" "--output: exit 1"
cmp -s "$T/report.json" "$T/r1.json" && [ ! -s "$T/stdout.out" ]
ok $? "--output writes the report to the file, nothing to standard output"
is "$(stat -c %a "$T/report.json")" "600" "--output's file is readable by its owner only"

# --entity
$RC --entity person >/dev/null 2>&1
is "$?" "1" "--entity person compares that entity"
$RC --entity referral >/dev/null 2>"$T/ent.err"
rc=$?
[ $rc -eq 2 ] && grep -q 'inside its parent' "$T/ent.err"
ok $? "--entity of a nested collection is a usage error naming its parent"
$RC --entity nosuch >/dev/null 2>"$T/ent2.err"
rc=$?
[ $rc -eq 2 ] && grep -q "mapping set lcs-rest has no entity 'nosuch'" "$T/ent2.err"
ok $? "--entity of an unknown entity is a usage error"
$RC --format xml >/dev/null 2>"$T/fmt.err"
rc=$?
[ $rc -eq 2 ] && grep -q 'usage: casesync reconcile' "$T/fmt.err"
ok $? "an unknown --format is a usage error"

# --- streaming: a small page gives the same answer over many requests ------------------
for i in 1 2 3 4 5 6; do
	curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
		--data "{\"name\": {\"surname\": \"Many$i\"}, \"gender\": \"M\"}" "$SIM_URL/api/v1/persons"
done
$RC --format json >"$T/big.json" 2>/dev/null
curl -sf -o /dev/null -X DELETE "$SIM_URL/_sim/requests"
$RC --format json --set remote.page_size=2 >"$T/small.json" 2>"$T/small.err"
is "$?" "1" "page size 2: exit 1 as before"
grep -q missing_local "$T/small.json" && cmp -s "$T/big.json" "$T/small.json"
ok $? "page size 2 gives the same report as one page"
is "$(python3 -c "import json; d=json.load(open('$T/small.json')); print(d['summary']['total']['missing_local'])")" \
	"7" "the six new council records are reported missing_local"
nreq=$(sim_json /_sim/requests "sum(1 for r in d['requests'] if r['path'] == '/api/v1/persons/changes')")
[ "$nreq" -ge 6 ]
ok $? "the feed was read in several requests ($nreq of at most 2 records)"
grep -q 'person: 12 council records in 6 pages' "$T/small.err"
ok $? "progress names the pages read"

# --- no answer: exit 2, no personal data -------------------------------------------------
$RC --set remote.url=http://127.0.0.1:1/api/v1 --set remote.max_retries=0 \
	>"$T/down.out" 2>"$T/down.err"
rc=$?
[ $rc -eq 2 ] && grep -q "cannot read the council's records of entity " "$T/down.err" &&
	! grep -qE 'Testwell|Councilrenamed|Provideronly' "$T/down.out" "$T/down.err"
ok $? "council unreachable: exit 2 with a clear message, without personal data"
$RC --set database.conninfo="host=127.0.0.1 port=1" >/dev/null 2>"$T/nodb.err"
rc=$?
[ $rc -eq 2 ] && grep -q 'cannot connect to the database' "$T/nodb.err"
ok $? "database unreachable: exit 2 with a clear message"
mkdir -p "$T/in" "$T/out"
$RC --set remote.transport=files --set remote.inbox="$T/in" --set remote.outbox="$T/out" \
	>/dev/null 2>"$T/files.err"
rc=$?
[ $rc -eq 2 ] && grep -q 'no live council' "$T/files.err"
ok $? "files transport: nothing to compare with, exit 2"
# A council record the mapping cannot read: reported with the reason, and
# its provider record is not reported again as missing at the council.
k_dee=$(sql "select id from casestore.person where family_name = 'Localonly'")
r_dee=$(sql "select la_child_id from casestore.person where id = $k_dee")
curl -sf "$SIM_URL/api/v1/persons/$r_dee" >"$T/p.json"
python3 -c "import json; d=json.load(open('$T/p.json')); d['dateOfBirth']='2015-02-30'; print(json.dumps(d))" >"$T/p2.json"
curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' --data @"$T/p2.json" \
	"$SIM_URL/api/v1/persons/$r_dee"
$RC --format json >"$T/bad.json" 2>"$T/bad.err"
is "$?" "1" "an unreadable council record: exit 1"
is "$(python3 -c "
import json; d=json.load(open('$T/bad.json'))
r=[r for r in d['records'] if r['remote_id'] == '$r_dee']
print(len(r), r[0]['status'], r[0]['local_key'], 'date_of_birth' in r[0]['reason'], d['summary']['total']['unreadable'])")" \
	"1 unreadable $k_dee True 1" "it is listed once, as unreadable, with the field named"
grep -q unreadable "$T/bad.json" && ! grep -q '2015-02-30' "$T/bad.json" "$T/bad.err"
ok $? "... and never with the value"

$BUILD/casesync reconcile --help | grep -q 'usage: casesync reconcile'
ok $? "reconcile --help explains itself"

# --- status -------------------------------------------------------------------------------
$ST >"$T/s1.out" 2>"$T/s1.err"
is "$?" "0" "status exits 0"
# person row: linked tombstones pending open resolved quarantined outbox_pending outbox_failed
is "$(awk '$1 == "person" {print $2, $3, $4, $5, $6, $7, $8, $9}' "$T/s1.out")" \
	"4 0 1 1 0 0 0 0" \
	"status (text): 4 linked, 1 pending local change (the insert), 1 open conflict"
last=$(sql "select id from casesync.cycles order by id desc limit 1")
# Pushed: the provider's person, and the provider's key told to the
# council for each of its three.
grep -q "^last cycle: $last by test-instance, started .*: ok, pulled 3, pushed 4," "$T/s1.out" &&
	grep -q "^last successful cycle: $last, finished " "$T/s1.out"
ok $? "status (text): the last cycle and the last successful one"
grep -q '^backlog: 1 record with changes waiting, the oldest waiting ' "$T/s1.out"
ok $? "status (text): the backlog and the oldest change's age"

# More to count: a resolved conflict, a tombstone, a quarantined record,
# outbox rows, another local change.
sql "update casesync.conflicts set status = 'resolved' where local_key = '$k103'"
sql "insert into casesync.conflicts (entity, local_key, remote_id, fields)
     values ('person', '$k101', '100101', '{}')"
sql "update casesync.base set deleted = true where entity = 'person' and local_key = '$k102'"
sql "insert into casesync.quarantine (entity, remote_id, source, reason) values
     ('person', '100999', 'feed', 'field gender: not in code list'),
     ('person', '100998', 'feed', 'released'), ('family', 'F1', 'feed', 'x')"
sql "update casesync.quarantine set released_at = now() where reason = 'released'"
sql "insert into casesync.outbox (entity, local_key, idempotency_key, body, status, op) values
     ('person', '$k101', 'k1', '{}', 'pending', 'update'),
     ('person', '$k102', 'k2', '{}', 'failed', 'update'),
     ('person', '$k103', 'k3', '{}', 'sent', 'update')"
sql "update casestore.person set given_name = 'Adah' where id = $k101"
$ST --format json >"$T/s2.json" 2>"$T/s2.err"
is "$?" "0" "status --format json exits 0"
cat >"$T/check_status.py" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
p = d['entities']['person']
print(' '.join(str(p[k]) for k in ('linked', 'tombstones', 'pending_changes',
      'open_conflicts', 'resolved_conflicts', 'quarantined', 'outbox_pending',
      'outbox_failed')))
print(d['entities']['family']['quarantined'], d['entities']['referral']['linked'],
      d['total']['quarantined'], d['backlog'], d['backlog_complete'],
      d['oldest_pending_age_s'] is not None and d['oldest_pending_age_s'] >= 0)
c = d['last_cycle']
print(c['id'], c['instance'], c['status'], c['pulled'], c['pushed'], c['conflicts'],
      c['rejected'], c['errors'], c['finished'] is not None,
      d['last_ok_cycle']['id'] == c['id'], d['last_ok_cycle']['age_s'] >= 0)
EOF
python3 "$T/check_status.py" "$T/s2.json" >"$T/s2.out" 2>&1
is "$(sed -n 1p "$T/s2.out")" "4 1 2 1 1 1 1 1" \
	"status (json): linked, tombstones, pending, open and resolved conflicts, quarantined, outbox"
is "$(sed -n 2p "$T/s2.out")" "1 0 2 2 True True" \
	"status (json): every mapped entity listed, totals, backlog and its age"
is "$(sed -n 3p "$T/s2.out")" "$last test-instance ok 3 4 0 0 0 True True True" \
	"status (json): the last cycle and the last successful one"

# A data lead runs it too (no right to read the unfolded change log).
role_config datalead "$CONF" "$T/lead.conf"
$BUILD/casesync -c "$T/lead.conf" status --format json >"$T/s3.json" 2>"$T/s3.err"
is "$?" "0" "status runs with a data lead's grants"
is "$(python3 -c "import json; d=json.load(open('$T/s3.json')); p=d['entities']['person']; print(p['linked'], p['open_conflicts'], p['pending_changes'], d['backlog_complete'])")" \
	"4 1 0 False" "a data lead sees the counts; changes not folded yet are flagged as not counted"
$BUILD/casesync -c "$T/lead.conf" status >"$T/s3.out" 2>&1
grep -q 'may not read casesync.change_log' "$T/s3.out"
ok $? "status (text) says what a data lead's role cannot count"
$BUILD/casesync -c "$T/lead.conf" reconcile --format json >"$T/lead.json" 2>"$T/lead.err"
is "$?" "1" "a data lead can run reconcile too"
$ST --format yaml >/dev/null 2>"$T/sfmt.err"
rc=$?
[ $rc -eq 2 ] && grep -q 'usage: casesync status' "$T/sfmt.err"
ok $? "status: an unknown format is a usage error"
$BUILD/casesync status --help | grep -q 'usage: casesync status'
ok $? "status --help explains itself"

# Nothing was written by reconcile or status to either side.
dump=$(curl -sf "$SIM_URL/_sim/dump" | md5sum)
audit=$(sql "select count(*) from casesync.audit")
$RC >/dev/null 2>&1; rc1=$?
$ST >/dev/null 2>&1; rc2=$?
is "$rc1|$rc2|$(curl -sf "$SIM_URL/_sim/dump" | md5sum)|$(sql "select count(*) from casesync.audit")" \
	"1|0|$dump|$audit" "reconcile and status change nothing on either side"

finish
