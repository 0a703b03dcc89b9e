#!/bin/bash
# The walking skeleton end to end: casesync migrate, then casesyncd --once
# cycles between a real PostgreSQL and the council simulator over HTTP.
set -u
. "$(dirname "$0")/lib.sh"
setup_sync_env
CS="$BUILD/casesync -c $CONF"
CSD="$BUILD/casesyncd -c $T/daemon.conf"

# --- migrate -----------------------------------------------------------------
$CS migrate --with-demo-store >"$T/m1" 2>&1
ok $? "migrate --with-demo-store installs the schemas"
grep -q 'change capture on casestore.person' "$T/m1"
ok $? "migrate installs change capture on the mapped table"
$CS migrate --with-demo-store >"$T/m2" 2>&1 && grep -q 'casesync is up to date' "$T/m2"
ok $? "migrate a second time is a no-op"
is "$(sql "select count(*) from casesync.schema_version")" "8" \
	"schema_version records one row per applied migration"
is "$(sql "select string_agg(entity, ',' order by entity) from casesync.capture")" \
	"allocation,assessment,case_note,cin_plan,cp_plan,cp_review,family,family_member,outcome,person,referral,section47,worker" \
	"every mapped table carries capture, recorded in casesync.capture"

# --- the daemon's database role ---------------------------------------------------
$BUILD/casesyncd -c "$CONF" --once 2>"$T/su.log"
rc=$?
[ $rc -ne 0 ] && grep -q 'event=db_role_refused' "$T/su.log" && grep -q 'is a superuser' "$T/su.log"
ok $? "the daemon refuses to run as a superuser"
daemon_config "$CONF" "$T/daemon.conf"
sql "alter table casestore.person disable trigger casesync_capture_update"
$CSD --once 2>"$T/cap.log"
rc=$?
[ $rc -ne 0 ] && grep -q 'change capture triggers on casestore.person are missing or disabled' "$T/cap.log"
ok $? "the daemon refuses to run while a mapped table's capture is disabled"
$CS migrate >/dev/null 2>&1
is "$(sql "select count(*) from pg_trigger where tgrelid = 'casestore.person'::regclass
           and tgname like 'casesync_capture_%' and tgenabled = 'O'")" "4" \
	"migrate puts the capture triggers back"

# A person the provider has that the council does not know yet.
sql "insert into casestore.person (given_name, family_name, date_of_birth, gender)
     values ('Dee', 'Localonly', '2019-02-03', '2')"

# --- first cycle: both directions ---------------------------------------------
$CSD --once 2>"$T/c1.log"
ok $? "first --once cycle exits 0"
is "$(sql "select count(*) from casestore.person where la_child_id in ('100101','100102','100103')")" \
	"3" "the council's three persons are created in the provider store"
is "$(sql "select given_name || '|' || family_name || '|' || date_of_birth || '|' || coalesce(upn,'-')
           from casestore.person where la_child_id = '100101'")" \
	"Ada|Testwell|2014-05-02|Z801200000001" "nested JSON fields map to their columns"
new_id=$(sql "select la_child_id from casestore.person where family_name = 'Localonly'")
[ -n "$new_id" ]
ok $? "the provider-only person got the council's id back"
is "$(sim_json "/api/v1/persons/$new_id" "d['name']['surname']")" "Localonly" \
	"the provider-only person was created at the council"
is "$(sql "select count(*) from casesync.audit where action = 'create_local'")" "3" \
	"one audit row per person created locally"
is "$(sql "select count(*) from casesync.audit where action = 'create_remote'")" "1" \
	"one audit row for the person created at the council"
is "$(sql "select (select count(*) from casesync.change_log) + (select count(*) from casesync.change_pending)")" "0" \
	"what the daemon applied did not echo into the change log"
grep -qE 'Ada|Testwell|2014-05-02' "$T/c1.log"
ok $((! $?)) "the daemon's log carries no names or dates of birth"

# --- second cycle: nothing to do -----------------------------------------------
audit_before=$(sql "select count(*) from casesync.audit")
dump_before=$(curl -sf "$SIM_URL/_sim/dump")
$CSD --once 2>/dev/null
ok $? "second --once cycle exits 0"
is "$(sql "select pulled || '/' || pushed from casesync.cycles order by id desc limit 1")" \
	"0/0" "the second cycle pulled and pushed nothing"
is "$(sql "select count(*) from casesync.audit")" "$audit_before" \
	"the second cycle wrote no audit rows"
is "$(curl -sf "$SIM_URL/_sim/dump")" "$dump_before" \
	"the second cycle changed nothing at the council"

# --- an edit on each side --------------------------------------------------------
sql "update casestore.person set family_name = 'Changedlocally' where la_child_id = '100101'"
is "$(sql "select op || ':' || array_to_string(casesync.mask_columns(masks[1], columns), ',') || ':' ||
           cardinality(keys) from casesync.change_log")" \
	"U:family_name:1" "a local edit is captured in the change log (key, op, changed column)"
curl -sf "$SIM_URL/api/v1/persons/100102" >"$T/p.json"
etag=$(sim_json "/api/v1/persons/100102" "d['version']")
python3 -c "import json; d=json.load(open('$T/p.json')); d['name']['forename']='Benedict'; print(json.dumps(d))" >"$T/p2.json"
curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' -H "If-Match: \"$etag\"" \
	--data @"$T/p2.json" "$SIM_URL/api/v1/persons/100102"
ok $? "a council worker edits a person in the simulator"
$CSD --once 2>/dev/null
ok $? "the edit cycle exits 0"
is "$(sim_json /api/v1/persons/100101 "d['name']['surname']")" "Changedlocally" \
	"the PostgreSQL edit reached the council"
is "$(sim_json /api/v1/persons/100101 "d['address']['postcode']")" "ZZ99 3AA" \
	"members the mapping does not cover survive the update"
is "$(sql "select given_name from casestore.person where la_child_id = '100102'")" "Benedict" \
	"the council edit reached PostgreSQL"
is "$(sql "select count(*) from casesync.audit where action = 'update_remote' and changes ? 'family_name'")" "1" \
	"the push is audited"
is "$(sql "select changes->'given_name'->>'old' || '>' || (changes->'given_name'->>'new')
           from casesync.audit where action = 'update_local' and changes ? 'given_name'")" \
	"Ben>Benedict" \
	"the audit row holds the field's old and new value"
is "$(sql "select (select count(*) from casesync.change_log) + (select count(*) from casesync.change_pending)")" "0" \
	"the pushed change was consumed"

audit_before=$(sql "select count(*) from casesync.audit")
dump_before=$(curl -sf "$SIM_URL/_sim/dump")
$CSD --once 2>/dev/null
ok $? "the cycle after the edits exits 0"
is "$(sql "select count(*) from casesync.audit")|$(curl -sf "$SIM_URL/_sim/dump")" \
	"$audit_before|$dump_before" "a second cycle after the edits changes nothing"

# --- both sides edit the same field: the council owns it ----------------------------
sql "update casestore.person set family_name = 'ProviderSays' where la_child_id = '100103'"
curl -sf "$SIM_URL/api/v1/persons/100103" >"$T/p.json"
python3 -c "import json; d=json.load(open('$T/p.json')); d['name']['surname']='CouncilSays'; print(json.dumps(d))" >"$T/p2.json"
curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' --data @"$T/p2.json" \
	"$SIM_URL/api/v1/persons/100103"
$CSD --once 2>/dev/null
is "$(sql "select family_name from casestore.person where la_child_id = '100103'")|$(sim_json /api/v1/persons/100103 "d['name']['surname']")" \
	"CouncilSays|CouncilSays" "a field both sides changed goes to its owner (the council)"
is "$(sql "select outcome from casesync.audit where action = 'update_local' and local_key =
           (select id::text from casestore.person where la_child_id = '100103')")" \
	"applied_by_policy" "the overwrite is audited as decided by policy"

# --- a bad record from the council is rejected, the others flow ----------------------
curl -sf "$SIM_URL/api/v1/persons/100101" >"$T/p.json"
python3 -c "import json; d=json.load(open('$T/p.json')); d['dateOfBirth']='2015-02-30'; print(json.dumps(d))" >"$T/p2.json"
curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' --data @"$T/p2.json" \
	"$SIM_URL/api/v1/persons/100101"
curl -sf "$SIM_URL/api/v1/persons/100102" >"$T/p.json"
python3 -c "import json; d=json.load(open('$T/p.json')); d['gender']='U'; print(json.dumps(d))" >"$T/p2.json"
curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' --data @"$T/p2.json" \
	"$SIM_URL/api/v1/persons/100102"
$CSD --once 2>"$T/bad.log"
ok $? "a cycle with one invalid council record still succeeds"
is "$(sql "select date_of_birth from casestore.person where la_child_id = '100101'")" \
	"2014-05-02" "the invalid date was not written"
is "$(sql "select gender from casestore.person where la_child_id = '100102'")" "0" \
	"the valid record in the same page was applied (U translated to census 0)"
is "$(sql "select rejected from casesync.cycles order by id desc limit 1")" "1" \
	"the rejection is counted in the cycle"
grep -q 'field date_of_birth' "$T/bad.log" && ! grep -q '2015-02-30' "$T/bad.log"
ok $? "the rejection names the field, not the value"
is "$(sql "select entity || '|' || remote_id || '|' || source || '|' || (reason like '%date_of_birth%')::text
           || '|' || (reason like '%2015%')::text from casesync.quarantine")" \
	"person|100101|feed|true|false" \
	"the invalid record is quarantined by id with a reason naming the field, not the value"
is "$(sql "select count(*) from casesync.audit where action = 'reject_input' and remote_id = '100101'
           and outcome = 'quarantined'")" "1" "the quarantine is audited"

# --- refusals ---------------------------------------------------------------------
sql "insert into casesync.schema_version (component, version, name) values ('casesync', 999, 'future')"
$CSD --once 2>"$T/new.log"
rc=$?
[ $rc -ne 0 ] && grep -q 'upgrade casesync' "$T/new.log"
ok $? "the daemon refuses a schema newer than it knows"
$CS migrate >"$T/new.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'upgrade casesync first' "$T/new.out"
ok $? "migrate refuses a schema newer than it knows"
sql "delete from casesync.schema_version where version = 999"

$CSD --once --set remote.url=http://192.0.2.1/api/v1 2>"$T/http.log"
rc=$?
[ $rc -ne 0 ] && grep -q 'plain http is allowed only for a loopback' "$T/http.log"
ok $? "plain http to a non-loopback council is refused before any request"

$CS check-config >/dev/null 2>&1
ok $? "check-config accepts the test config"
mkdir -p "$T/maps/broken"
cp "$ROOT/mappings/model.json" "$T/maps/"
cat >"$T/maps/broken/person.json" <<'EOF'
{
  "format": "casesync-mapping/1",
  "entities": {
    "person": {
      "local": {"table": "casestore.person", "key": "id"},
      "remote": {"collection": "persons"},
      "match": ["given_name"],
      "fields": {
        "given_name": {"local": "given_name", "remote": "nope"},
        "gender": {"local": "gender", "remote": "/g", "colour": "red"}
      }
    }
  }
}
EOF
$CS check-config --set mappings.dir="$T/maps" --set mappings.use=broken 2>"$T/cc.err" >/dev/null
rc=$?
[ $rc -eq 1 ] && grep -q 'person.json:9: /entities/person/fields/given_name/remote: not a valid JSON Pointer' "$T/cc.err" &&
	grep -q "person.json:10: /entities/person/fields/gender/colour: unknown key 'colour'" "$T/cc.err" &&
	grep -q '^2 problems found' "$T/cc.err"
ok $? "check-config exits 1 listing every problem with FILE:LINE"

$BUILD/casesync >/dev/null 2>&1; is "$?" "2" "casesync without a command is a usage error (2)"
$BUILD/casesync frobnicate >/dev/null 2>&1; is "$?" "2" "an unknown command is a usage error (2)"
$BUILD/casesyncd --frobnicate >/dev/null 2>&1; is "$?" "2" "an unknown daemon option is a usage error (2)"
$BUILD/casesync migrate --help | grep -q 'usage: casesync migrate'
ok $? "migrate --help explains itself"

finish
