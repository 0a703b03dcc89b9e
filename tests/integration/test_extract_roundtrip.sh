#!/bin/bash
# Extract files both ways against the simulator's extract-file mode: the
# council's census extract lands in casesyncd's inbox and is taken in; a
# provider change goes out as an import file to the council's import
# folder, which the simulator takes in; the council's next extract then
# changes nothing (no echo).
set -u
. "$(dirname "$0")/lib.sh"
CIN="$ROOT/../shared/data/cin"
if [ ! -r "$CIN/cin-2022.xml" ]; then
	ok 0 "extract round trip # SKIP ../shared/data/cin absent"
	finish
	exit 0
fi
use_fresh_db
IN="$T/inbox" OUT="$T/council-import"
mkdir -p "$IN" "$OUT"
start_sim_args --cin-fixture "$CIN/cin-2022.xml" --extract-dir "$IN" --import-dir "$OUT"
sim_post() { curl -sf -X POST -H 'Content-Type: application/json' -d "$2" "$SIM_URL$1"; }

cat >"$T/c.conf" <<CONF
[database]
conninfo =
[mappings]
dir = $ROOT/mappings
use = cin-census
[remote]
transport = files
inbox = $IN
outbox = $OUT
inbox_settle_s = 0
[daemon]
instance = roundtrip-test
$(audit_section)
CONF
"$BUILD/casesync" -c "$T/c.conf" migrate --with-demo-store >/dev/null 2>&1
ok $? "migrate"
daemon_config "$T/c.conf" "$T/d.conf"
cycle() { "$BUILD/casesyncd" -c "$T/d.conf" --once 2>>"$T/d.log"; }

sim_post /_sim/extract '{"collection":"children","name":"extract-1.xml"}' >"$T/e1.json"
is "$(python3 -c "import json; print(json.load(open('$T/e1.json'))['records'])")" "1" \
	"the council writes its extract (one child) into the inbox"
cycle
ok $? "a cycle takes the extract in"
[ -e "$IN/processed/extract-1.xml" ]
ok $? "the extract is moved to processed/"
is "$(sql "select la_child_id || '|' || coalesce(upn, '-') from casestore.person")" \
	"DfEX0000001|A123456789123" "the child is in the provider store"

sql "update casestore.person set upn = 'B123456789012' where la_child_id = 'DfEX0000001'"
cycle
ok $? "a cycle after a provider change"
is "$(ls "$OUT" | grep -c '^cin-census-person-.*\.xml$')" "1" \
	"an import file is written to the council's import folder"
ls -A "$OUT" | grep -q '\.tmp$'
ok $((! $?)) "no temporary file is left beside it"
sim_post /_sim/import '{}' >"$T/i1.json"
is "$(python3 -c "import json; d=json.load(open('$T/i1.json')); print(d['files'], d['records'], d['rejected'], d['updated'])")" \
	"1 1 0 1" "the council takes the import file in: one record updated, nothing rejected"
curl -sf "$SIM_URL/xml/v1/children/DfEX0000001" >"$T/child.xml"
is "$(xmllint --xpath 'string(/Child/ChildIdentifiers/UPN)' "$T/child.xml")" "B123456789012" \
	"the council's record carries the provider's change"
xmllint --xpath 'count(/Child/CINdetails)' "$T/child.xml" >"$T/n"
[ "$(cat "$T/n")" -ge 1 ]
ok $? "the council's record kept its CIN details"

locals() { sql "select count(*) from casesync.audit where action in ('create_local', 'update_local')"; }
before=$(locals)
sim_post /_sim/extract '{"collection":"children","name":"extract-2.xml"}' >/dev/null
cycle
ok $? "a cycle takes the council's next extract in"
[ -e "$IN/processed/extract-2.xml" ]
ok $? "the second extract is processed"
is "$(locals)|$(sql "select upn from casestore.person")" "$before|B123456789012" \
	"the extract carrying the provider's own change changes nothing in the store (no echo)"
is "$(ls "$OUT" | grep -c '^cin-census-person-.*\.xml$')" "0" \
	"and sends nothing back to the council"

finish
