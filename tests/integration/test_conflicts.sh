#!/bin/bash
# The reconciliation rules of a cycle, against a real PostgreSQL and the
# simulator: field conflicts held for a person (only that record waits),
# `casesync conflicts list | show | resolve` and the daemon applying the
# resolution, the newest policy by modification times with the clock-skew
# alarm, deletions as tombstones and delete-versus-modify conflicts, the
# outbox (a write stored with its key before it is sent, the same key after
# a crash), and inbound dedupe by id and version.
set -u
. "$(dirname "$0")/lib.sh"
setup_sync_env
# This set: given_name is decided by a person, family_name by the newest
# change, the rest as the model says (the council owns them).
cp -R "$ROOT/mappings" "$T/mappings"
python3 - "$T/mappings/lcs-rest/person.json" <<'PYEOF'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
f = m["entities"]["person"]["fields"]
f["given_name"]["policy"] = "manual"
f["family_name"]["policy"] = "newest"
json.dump(m, open(p, "w"), indent=2)
PYEOF
sed -i "s|^dir = .*|dir = $T/mappings|" "$CONF"
CS="$BUILD/casesync -c $CONF"
$CS migrate --with-demo-store >/dev/null 2>&1 || exit 1
daemon_config "$CONF" "$T/daemon.conf"
CSD="$BUILD/casesyncd -c $T/daemon.conf"
# The data lead: a login role in casesync_datalead only.
role_config datalead "$CONF" "$T/lead.conf"
LEADROLE=$LROLE
LEAD="$BUILD/casesync -c $T/lead.conf"

key_of() { sql "select id from casestore.person where la_child_id = '$1'"; }
# council_set ID PY-STATEMENT: edits a person at the council (d is the record).
council_set() {
	curl -sf "$SIM_URL/api/v1/persons/$1" >"$T/p.json" || return 1
	python3 -c "import json; d=json.load(open('$T/p.json')); $2; print(json.dumps(d))" >"$T/p2.json"
	curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' \
		--data @"$T/p2.json" "$SIM_URL/api/v1/persons/$1"
}
cycle() { $CSD --once 2>>"$T/daemon.log"; local rc=$?; cp "$T/daemon.log" /tmp/conflicts-daemon.log; return $rc; }

cycle
is "$(sql "select count(*) from casestore.person where la_child_id is not null")" "3" \
	"first cycle: the council's persons are in the provider store"
K1=$(key_of 100101) K2=$(key_of 100102) K3=$(key_of 100103)
is "$(sim_json /api/v1/persons/100101 "d['identifiers']['providerId']")|$(sql "select count(*) from casesync.change_pending")" \
	"$K1|0" "the council learns the provider's key of a record it created, in the same cycle"

# --- a manual field changed on both sides: held for a person ----------------------
sql "update casestore.person set given_name = 'Adeline' where id = $K1"
council_set 100101 "d['name']['forename']='Adaline'"
sql "update casestore.person set upn = 'Z801200000099' where id = $K2"
cycle
ok $? "a cycle with a conflict exits 0"
is "$(sql "select kind || '|' || status || '|' || remote_id || '|' ||
           (fields->'given_name'->>'base') || '|' || (fields->'given_name'->>'local') || '|' ||
           (fields->'given_name'->>'remote') || '|' || (select count(*) from jsonb_object_keys(fields))
           from casesync.conflicts where local_key = '$K1'")" \
	"fields|open|100101|Ada|Adeline|Adaline|1" \
	"the conflict is queued with the base, provider and council values of the field"
is "$(sim_json /api/v1/persons/100101 "d['name']['forename']")|$(sql "select given_name from casestore.person where id = $K1")" \
	"Adaline|Adeline" "neither side is overwritten while the conflict is open"
is "$(sim_json /api/v1/persons/100102 "d['identifiers']['upn']")" "Z801200000099" \
	"other records keep flowing"
is "$(sql "select count(*) from casesync.audit where action = 'conflict_open' and local_key = '$K1' and outcome = 'held'")" \
	"1" "opening the conflict is audited"
grep -q 'event=record_conflict' "$T/daemon.log" && ! grep -qE 'Adeline|Adaline' "$T/daemon.log"
ok $? "the conflict is logged by key, without the values"

# Further edits of the held record wait; a second cycle opens no second conflict.
sql "update casestore.person set family_name = 'Heldback' where id = $K1"
cycle
is "$(sim_json /api/v1/persons/100101 "d['name']['surname']")|$(sql "select count(*) from casesync.conflicts")|$(sql "select count(*) from casesync.change_pending where local_key = '$K1'")" \
	"Testwell|1|1" "a held record's later change waits in the queue; no second conflict"

# --- the data lead's commands ---------------------------------------------------------
CID=$(sql "select id from casesync.conflicts where local_key = '$K1'")
$LEAD conflicts list >"$T/list.txt" 2>&1
ok $? "conflicts list exits 0 for a data lead"
grep -qE "^$CID +person +$K1 +100101 +fields +open .* given_name$" "$T/list.txt"
ok $? "conflicts list shows id, entity, keys, kind, status and the fields"
$LEAD conflicts list --format json | python3 -c "
import json,sys; a=json.load(sys.stdin); assert len(a)==1 and a[0]['id']==$CID and a[0]['fields']=='given_name' and a[0]['age_s']>=0"
ok $? "conflicts list --format json"
$LEAD conflicts show "$CID" >"$T/show.txt"
grep -qE '^given_name +Ada +Adeline +Adaline$' "$T/show.txt"
ok $? "conflicts show gives the last agreed, provider and council values"
$LEAD conflicts show "$CID" --format json | python3 -c "
import json,sys; d=json.load(sys.stdin); assert d['fields']['given_name']=={'base':'Ada','local':'Adeline','remote':'Adaline'}, d"
ok $? "conflicts show --format json"
$LEAD conflicts resolve "$CID" --take local >/dev/null 2>&1
is "$?" "2" "resolve without --reason is a usage error"
$LEAD conflicts resolve "$CID" --value upn=X --reason r >/dev/null 2>"$T/err"
is "$?|$(grep -c 'does not hold field upn' "$T/err")" "1|1" "a --value for a field the conflict does not hold is refused"
$LEAD conflicts resolve 99999 --take local --reason r >/dev/null 2>&1
is "$?" "1" "resolving an unknown conflict exits 1"
$LEAD conflicts resolve "$CID" --take remote --reason "council record checked with the family" >"$T/res.txt" 2>&1
ok $? "conflicts resolve --take remote"
is "$(sql "select status || '|' || resolved_by || '|' || reason || '|' || (resolution->>'take')
           from casesync.conflicts where id = $CID")" \
	"resolved|$LEADROLE|council record checked with the family|remote" \
	"the resolution records who, why and what"
is "$(sql "select actor || '|' || source || '|' || (changes->'given_name'->>'chosen') from casesync.audit
           where action = 'resolve_conflict'")" "$LEADROLE|person|Adaline" \
	"the resolution is audited with the person and the value chosen"
$LEAD conflicts resolve "$CID" --take local --reason again >/dev/null 2>"$T/err"
is "$?|$(grep -c 'not open' "$T/err")" "1|1" "a conflict is resolved once"
cycle
is "$(sql "select status from casesync.conflicts where id = $CID")" "applied" \
	"the daemon applies the resolution"
is "$(sql "select given_name || '|' || family_name from casestore.person where id = $K1")|$(sim_json /api/v1/persons/100101 "d['name']['forename'] + '|' + d['name']['surname']")" \
	"Adaline|Heldback|Adaline|Heldback" \
	"both sides hold the chosen value, and the change that waited went through"
is "$(sql "select count(*) from casesync.change_pending")" "0" "nothing is left pending"

# --value: a person's own value.
sql "update casestore.person set given_name = 'Bennie' where id = $K2"
council_set 100102 "d['name']['forename']='Benjy'"
cycle
CID2=$(sql "select id from casesync.conflicts where local_key = '$K2' and status = 'open'")
$LEAD conflicts resolve "$CID2" --value given_name=Benjamin --reason "as on the birth certificate" >/dev/null
ok $? "conflicts resolve --value"
cycle
is "$(sql "select given_name from casestore.person where id = $K2")|$(sim_json /api/v1/persons/100102 "d['name']['forename']")" \
	"Benjamin|Benjamin" "a value given by the person reaches both sides"

# --- newest: the later change wins, by the systems' own times ------------------------
sql "update casestore.person set family_name = 'OlderLocal' where id = $K3"
sleep 2.5
council_set 100103 "d['name']['surname']='NewerCouncil'"
cycle
is "$(sql "select family_name from casestore.person where id = $K3")|$(sim_json /api/v1/persons/100103 "d['name']['surname']")" \
	"NewerCouncil|NewerCouncil" "newest: the council's later change wins"
council_set 100103 "d['name']['surname']='OlderCouncil'"
sleep 2.5
sql "update casestore.person set family_name = 'NewerLocal' where id = $K3"
cycle
is "$(sql "select family_name from casestore.person where id = $K3")|$(sim_json /api/v1/persons/100103 "d['name']['surname']")" \
	"NewerLocal|NewerLocal" "newest: the provider's later change wins"
is "$(sql "select count(*) from casesync.conflicts where local_key = '$K3'")" "0" \
	"a newest field decided by time opens no conflict"
# The council's clock an hour ahead: the times cannot be trusted.
curl -sf -o /dev/null -X POST -d '{"offset":3600}' "$SIM_URL/_sim/clock"
sql "update casestore.person set family_name = 'SkewLocal' where id = $K3"
sleep 2.5
council_set 100103 "d['name']['surname']='SkewCouncil'"
: >"$T/daemon.log"
cycle
is "$(sql "select kind || '|' || (fields->'family_name'->>'remote') from casesync.conflicts where local_key = '$K3' and status = 'open'")" \
	"fields|SkewCouncil" "with the clocks an hour apart, newest falls back to a person"
grep -qE 'event=clock_skew .*seconds=3[56][0-9][0-9] ' "$T/daemon.log"
ok $? "the clock skew raises an alarm in the log"
curl -sf -o /dev/null -X POST -d '{"offset":0}' "$SIM_URL/_sim/clock"
$LEAD conflicts resolve "$(sql "select id from casesync.conflicts where local_key = '$K3' and status = 'open'")" \
	--take local --reason "provider spelling" >/dev/null
cycle

# --- deletions travel as tombstones --------------------------------------------------
for n in 1 2 3 4; do
	sql "insert into casestore.person (given_name, family_name, date_of_birth, gender)
	     values ('Del$n', 'Person', '2018-01-0$n', '1')"
done
cycle
D1=$(sql "select la_child_id from casestore.person where given_name = 'Del1'")
D2=$(sql "select la_child_id from casestore.person where given_name = 'Del2'")
D3=$(sql "select la_child_id from casestore.person where given_name = 'Del3'")
D4=$(sql "select la_child_id from casestore.person where given_name = 'Del4'")
[ -n "$D1" ] && [ -n "$D4" ]
ok $? "four more persons are known on both sides"
curl -sf -o /dev/null -X DELETE "$SIM_URL/api/v1/persons/$D1"
sql "delete from casestore.person where given_name = 'Del2'"
cycle
is "$(sql "select count(*) from casestore.person where given_name = 'Del1'")" "0" \
	"a council deletion removes the unchanged provider record"
is "$(curl -s -o /dev/null -w '%{http_code}' "$SIM_URL/api/v1/persons/$D2")" "404" \
	"a provider deletion reaches the council"
is "$(sql "select string_agg(action || ':' || source, ',' order by seq) from casesync.audit
           where action in ('delete_local', 'delete_remote')")" \
	"delete_local:council,delete_remote:provider" "both deletions are audited"
is "$(sql "select count(*) from casesync.base where deleted")" "2" \
	"the agreed state of both is a tombstone"
# Delete versus modify, both ways.
sql "update casestore.person set upn = 'Z801200000077' where given_name = 'Del3'"
curl -sf -o /dev/null -X DELETE "$SIM_URL/api/v1/persons/$D3"
sql "delete from casestore.person where given_name = 'Del4'"
council_set "$D4" "d['identifiers']['upn']='Z801200000066'"
cycle
is "$(sql "select string_agg(kind, ',' order by kind) from casesync.conflicts where status = 'open'")" \
	"deleted_local,deleted_remote" "delete-versus-modify opens a conflict either way"
is "$(sql "select count(*) from casestore.person where given_name = 'Del3'")|$(curl -s -o /dev/null -w '%{http_code}' "$SIM_URL/api/v1/persons/$D4")" \
	"1|200" "nothing is deleted while the conflict is open"
C3=$(sql "select id from casesync.conflicts where kind = 'deleted_remote' and status = 'open'")
C4=$(sql "select id from casesync.conflicts where kind = 'deleted_local' and status = 'open'")
$LEAD conflicts resolve "$C3" --value upn=Z801200000077 --reason x >/dev/null 2>"$T/err"
is "$?|$(grep -c 'deleted record' "$T/err")" "1|1" "a deletion conflict takes --take only"
$LEAD conflicts resolve "$C3" --take local --reason "still open with us" >/dev/null &&
	$LEAD conflicts resolve "$C4" --take remote --reason "council reopened the case" >/dev/null
ok $? "both resolved"
cycle
N3=$(sql "select remote_id from casesync.crosswalk c join casestore.person p on c.local_key = p.id::text where p.given_name = 'Del3'")
[ -n "$N3" ] && [ "$N3" != "$D3" ] && [ "$(sim_json "/api/v1/persons/$N3" "d['identifiers']['upn']")" = "Z801200000077" ]
ok $? "take local after a council deletion: the provider's record goes back to the council as a new record"
is "$(sql "select la_child_id from casestore.person where given_name = 'Del3'")" "$N3" \
	"the provider's record takes the council's new id"
is "$(sql "select count(*) || '|' || min(upn) from casestore.person where given_name = 'Del4'")" \
	"1|Z801200000066" "take remote after a provider deletion: the council's record comes back to the provider"
is "$(sql "select count(*) from casesync.conflicts where status <> 'applied'")" "0" \
	"every conflict is applied"

# --- the outbox: the key is stored before the first send and reused ------------------
sql "insert into casestore.person (given_name, family_name, date_of_birth, gender)
     values ('Crash', 'Once', '2017-03-04', '2')"
created=$(sim_json /_sim/stats "d['created']")
CASESYNC_FAILPOINT=push.after_send "$BUILD/casesyncd-fp" -c "$T/daemon.conf" --once 2>"$T/fp.log"
is "$?|$(grep -c 'failpoint push.after_send' "$T/fp.log")" "137|1" \
	"the test build dies (SIGKILL) after the council answered, before settling"
is "$(sql "select op || '|' || length(idempotency_key) || '|' || status from casesync.outbox")|$(sim_json /_sim/stats "d['created']")" \
	"create|32|pending|$((created + 1))" \
	"the create reached the council and its outbox row, with the key, survived the crash"
idem=$(sql "select idempotency_key from casesync.outbox")
replays=$(sim_json /_sim/stats "d['replays']")
cycle
is "$(sim_json /_sim/stats "d['created']")|$(sim_json /_sim/stats "d['replays']")" \
	"$((created + 1))|$((replays + 1))" \
	"after the restart the same key is sent again: the council replays, nothing is created twice"
is "$(sql "select count(*) from casesync.outbox")|$(sql "select count(*) from casesync.crosswalk c join casestore.person p on c.local_key = p.id::text where p.given_name = 'Crash'")" \
	"0|1" "the replayed answer is settled: the crosswalk links the one council record"
[ -n "$idem" ] && ! grep -q "$idem" "$T/daemon.log"
ok $? "idempotency keys are not logged"

# --- inbound dedupe: a replayed feed applies nothing twice ---------------------------
audit_before=$(sql "select count(*) from casesync.audit")
sql "update casesync.cursors set value = '0' where name = 'remote:person'"
cycle
is "$(sql "select count(*) from casesync.audit")|$(sql "select pulled from casesync.cycles order by id desc limit 1")" \
	"$audit_before|0" "the whole feed read again from the start applies nothing twice"
finish
