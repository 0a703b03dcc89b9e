#!/bin/bash
# casesync import: the DfE CIN census sample goes into the provider store
# completely through mappings/cin-census, validated against the 2024 XSD;
# importing it again changes nothing; a file failing the XSD, or carrying a
# DOCTYPE, is rejected whole with nothing written; a record with a value
# outside its code list is quarantined while the rest is applied.
set -u
. "$(dirname "$0")/lib.sh"
CIN="$ROOT/../shared/data/cin"
if [ ! -r "$CIN/cin-2022.xml" ] || [ ! -r "$CIN/CIN_schema_2024.xsd" ]; then
	ok 0 "casesync import # SKIP ../shared/data/cin absent"
	finish
	exit 0
fi
SAMPLE="$CIN/cin-2022.xml"
XSD="$CIN/CIN_schema_2024.xsd"
setup_sync_env
sed -i 's/^use = lcs-rest/use = cin-census/' "$CONF"
"$BUILD/casesync" -c "$CONF" migrate --with-demo-store >"$T/m.out" 2>&1
ok $? "migrate with the cin-census mapping set"
daemon_config "$CONF" "$T/d.conf"
CS="$BUILD/casesync -c $T/d.conf"
TABLES="person referral assessment cin_plan section47 cp_plan cp_review"

# Everything in the provider store, as one fingerprint.
dump() {
	for t in $TABLES; do
		psql -X -q -A -t -c "select md5(coalesce(string_agg(x::text, '|' order by x::text), ''))
			from casestore.$t x"
	done | md5sum | cut -d' ' -f1
}
counts() {
	for t in $TABLES; do printf '%s ' "$(sql "select count(*) from casestore.$t")"; done
}

# --- the sample, completely -------------------------------------------------------
$CS import --mapping cin-census --schema "$XSD" "$SAMPLE" >"$T/i1.out" 2>"$T/i1.err"
ok $? "the census sample imports (exit 0)"
grep -q '^1 records read, 1 applied, 0 quarantined$' "$T/i1.out"
ok $? "it reports records read, applied and quarantined"
grep -q '^person *1 created' "$T/i1.out" && grep -q '^cp_review *[0-9]* created' "$T/i1.out"
ok $? "it prints counts per entity"
# Each element the mapping reads from, counted in the file, is a row.
want=$(python3 - "$SAMPLE" <<'PYEOF'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
kids = root.findall('./Children/Child')
n = lambda path: sum(len(c.findall(path)) for c in kids)
print(len(kids), n('CINdetails'), n('CINdetails/Assessments'), n('CINdetails/CINPlanDates'),
      n('CINdetails/Section47'), n('CINdetails/ChildProtectionPlans'),
      n('CINdetails/ChildProtectionPlans/Reviews/CPPreviewDate'), end=' ')
PYEOF
)
is "$(counts)" "$want" "every child, referral, assessment, plan, section 47 and review in the file is a row"
is "$(sql "select la_child_id || '|' || upn || '|' || former_upn || '|' || gender || '|' ||
           date_of_birth || '|' || ethnicity || '|' || disabilities from casestore.person")" \
	"DfEX0000001|A123456789123|X98765432123B|1|1966-03-24|WBRI|HAND,HEAR" \
	"the child's fields land in their columns (codes and lists as the census has them)"
is "$(sql "select r.referral_date || '|' || r.referral_source || '|' || a.factors
           from casestore.referral r join casestore.assessment a on a.referral_id = r.id")" \
	"1970-10-06|1A|2A,2B" "nested collections hang under their parents"
is "$(sql "select count(*) from casesync.audit where action = 'create_local'")" \
	"$(echo "$want" | awk '{s = 0; for (i = 1; i <= NF; i++) s += $i; print s}')" \
	"one audit row per row created"
is "$(sql "select count(*) from casesync.change_log")" "0" \
	"what the import applied is not captured as a provider change"

# --- again: nothing changes ------------------------------------------------------------
before=$(dump)
audit_before=$(sql "select count(*) from casesync.audit")
$CS import --mapping cin-census --schema "$XSD" "$SAMPLE" >"$T/i2.out" 2>&1
ok $? "importing the sample again exits 0"
is "$(dump)|$(sql "select count(*) from casesync.audit")" "$before|$audit_before" \
	"importing it again changes nothing and audits nothing"
grep -q '^person *0 created *0 updated *1 unchanged' "$T/i2.out"
ok $? "and says every record was unchanged"

# --- rejected whole ---------------------------------------------------------------------
python3 - "$SAMPLE" "$T/bad.xml" <<'PYEOF'
import sys
text = open(sys.argv[1], encoding='utf-8').read()
i = text.index('<GenderCurrent>1</GenderCurrent>')
text = text[:i] + '<GenderCurrent>7</GenderCurrent>' + text[i + len('<GenderCurrent>1</GenderCurrent>'):]
open(sys.argv[2], 'w', encoding='utf-8').write(text)
print(text[:i].count('\n') + 1, file=open(sys.argv[2] + '.line', 'w'))
PYEOF
line=$(cat "$T/bad.xml.line")
cycles_before=$(sql "select count(*) from casesync.cycles")
$CS import --mapping cin-census --schema "$XSD" "$T/bad.xml" >"$T/i3.out" 2>"$T/i3.err"
is "$?" "1" "a census file that fails the XSD exits 1"
grep -q "rejected, nothing written: $T/bad.xml: line $line: schema error" "$T/i3.err"
ok $? "the message names the line of the first error ($line)"
is "$(dump)|$(sql "select count(*) from casesync.audit")|$(sql "select count(*) from casesync.cycles")" \
	"$before|$((audit_before + 1))|$cycles_before" "nothing of it was written; the rejection alone is audited"
is "$(sql "select action || '|' || entity || '|' || remote_id || '|' || version || '|' || outcome || '|' || changes::text from casesync.audit order by seq desc limit 1")" \
	"reject_file|file|$T/bad.xml|$(sha256sum "$T/bad.xml" | cut -d' ' -f1)|rejected|{}" \
	"the audit entry names the rejected file and its content's SHA-256"

printf '<?xml version="1.0"?>\n<!DOCTYPE Message [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<Message><Children><Child><ChildIdentifiers><LAchildID>&x;</LAchildID></ChildIdentifiers></Child></Children></Message>\n' >"$T/xxe.xml"
$CS import --mapping cin-census "$T/xxe.xml" >/dev/null 2>"$T/i4.err"
rc=$?
[ $rc -eq 1 ] && grep -q 'DOCTYPE not allowed' "$T/i4.err" && ! grep -q 'root:' "$T/i4.err"
ok $? "an external-entity payload is rejected (DOCTYPE) and nothing of the entity shows"
{
	echo '<?xml version="1.0"?>'
	echo '<!DOCTYPE Message [<!ENTITY a "lollollollollollollollollollol">'
	for c in b c d e f g h i j; do
		p=$(printf '%s' "$c" | tr 'b-j' 'a-i')
		echo "<!ENTITY $c \"&$p;&$p;&$p;&$p;&$p;&$p;&$p;&$p;&$p;&$p;\">"
	done
	echo ']><Message><Children><Child><ChildIdentifiers><LAchildID>&j;</LAchildID></ChildIdentifiers></Child></Children></Message>'
} >"$T/laughs.xml"
$CS import --mapping cin-census "$T/laughs.xml" >/dev/null 2>"$T/i5.err"
rc=$?
[ $rc -eq 1 ] && grep -q 'DOCTYPE not allowed' "$T/i5.err"
ok $? "a billion-laughs payload is rejected"
is "$(dump)|$(sql "select count(*) from casesync.audit where action <> 'reject_file'")|$(sql "select count(*) from casesync.audit where action = 'reject_file'")" \
	"$before|$audit_before|3" "neither wrote anything but the audit entry of its rejection"

# --- one bad record quarantined, the rest applied --------------------------------------
"$ROOT/bench/gen-cin" "$SAMPLE" 3 >"$T/three.xml"
python3 - "$T/three.xml" <<'PYEOF'
import sys
p = sys.argv[1]
text = open(p, encoding='utf-8').read()
marker = '<LAchildID>GEN00000001</LAchildID>'
i = text.index(marker)
j = text.index('<GenderCurrent>', i)
k = text.index('</GenderCurrent>', j)
text = text[:j] + '<GenderCurrent>Q' + text[k:]
open(p, 'w', encoding='utf-8').write(text)
PYEOF
$CS import --mapping cin-census "$T/three.xml" >"$T/i6.out" 2>"$T/i6.err"
ok $? "a file with one invalid code (no schema given) still imports"
grep -q '^3 records read, 2 applied, 1 quarantined$' "$T/i6.out"
ok $? "two records applied, one quarantined"
is "$(sql "select count(*) from casestore.person where la_child_id in ('GEN00000000', 'GEN00000002')")|$(sql "select count(*) from casestore.person where la_child_id = 'GEN00000001'")" \
	"2|0" "the good records are in, the bad one is not"
is "$(sql "select remote_id || '|' || (source like '%three.xml:%') || '|' || (reason like '%gender%')
           from casesync.quarantine")" "GEN00000001|true|true" \
	"the quarantine names the record, the file and line, and the field"
is "$(sql "select count(*) from casesync.quarantine where reason like '%Q%'")" "0" \
	"the reason does not carry the value"
is "$(sql "select count(*) from casesync.audit where action = 'reject_input' and remote_id = 'GEN00000001'")" \
	"1" "the rejection is audited"

$CS import --mapping cin-census >/dev/null 2>&1; is "$?" "2" "import without a file is a usage error (2)"
$CS import --help | grep -q 'usage: casesync import'
ok $? "import --help explains itself"

finish
