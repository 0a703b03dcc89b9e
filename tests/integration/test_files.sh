#!/bin/bash
# The files transport: casesyncd takes extract files from remote.inbox once
# they have settled, imports each once (name + content hash), and moves it
# to processed/ or rejected/ (with a reason file); hidden and temporary
# files are left alone.
set -u
. "$(dirname "$0")/lib.sh"
CIN="$ROOT/../shared/data/cin"
if [ ! -r "$CIN/cin-2022.xml" ]; then
	ok 0 "files transport # SKIP ../shared/data/cin absent"
	finish
	exit 0
fi
use_fresh_db
IN="$T/inbox"
mkdir -p "$IN" "$T/outbox"
cat >"$T/c.conf" <<CONF
[database]
conninfo =
[mappings]
dir = $ROOT/mappings
use = cin-census
[remote]
transport = files
inbox = $IN
outbox = $T/outbox
inbox_settle_s = 1
[daemon]
instance = files-test
$(audit_section)
CONF
"$BUILD/casesync" -c "$T/c.conf" migrate --with-demo-store >/dev/null 2>&1
ok $? "migrate"
daemon_config "$T/c.conf" "$T/d.conf"
cycle() { "$BUILD/casesyncd" -c "$T/d.conf" --once "$@" 2>>"$T/d.log"; }
audit() { sql "select count(*) from casesync.audit"; }

cp "$CIN/cin-2022.xml" "$IN/cin-a.xml"
: >"$IN/.hidden.xml"
cp "$CIN/cin-2022.xml" "$IN/cin-b.xml.part"
# A settle time far longer than the cycle can take, so the file is fresh.
cycle --set remote.inbox_settle_s=60
ok $? "a cycle with a fresh file exits 0"
[ -e "$IN/cin-a.xml" ] && [ "$(sql "select count(*) from casestore.person")" = 0 ]
ok $? "a file changed less than inbox_settle_s ago is not read"
sleep 1.2
cycle
ok $? "the next cycle exits 0"
[ -e "$IN/processed/cin-a.xml" ] && [ ! -e "$IN/cin-a.xml" ]
ok $? "the settled file is moved to processed/"
is "$(sql "select la_child_id from casestore.person")" "DfEX0000001" "its child is in the provider store"
is "$(sql "select status || ':' || records from casesync.inbox_files where name = 'cin-a.xml'")" \
	"processed:1" "the inbox register records it with its content hash"
[ -e "$IN/.hidden.xml" ] && [ -e "$IN/cin-b.xml.part" ]
ok $? "hidden and .part files are left alone"

before=$(audit)
cp "$CIN/cin-2022.xml" "$IN/cin-a.xml"
sleep 1.2
cycle
[ -e "$IN/processed/cin-a.xml.1" ] && [ "$(audit)" = "$before" ]
ok $? "the same file dropped again is moved aside (processed/cin-a.xml.1) and not applied again"
grep -q 'event=inbox_file_seen file="cin-a.xml" status=processed' "$T/d.log"
ok $? "and the log says it was seen before"

# A crash after the import committed but before the file moved.
sed 's/DfEX0000001/DfEX0000002/' "$CIN/cin-2022.xml" >"$IN/cin-c.xml"
sha=$(sha256sum "$IN/cin-c.xml" | cut -d' ' -f1)
sql "insert into casesync.inbox_files (name, sha256, status, records) values ('cin-c.xml', '$sha', 'processed', 1)"
sleep 1.2
cycle
[ -e "$IN/processed/cin-c.xml" ] && [ "$(sql "select count(*) from casestore.person where la_child_id = 'DfEX0000002'")" = 0 ]
ok $? "a file the register already holds as processed is moved, not applied twice"

printf '<?xml version="1.0"?>\n<!DOCTYPE Message [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<Message><Children><Child><ChildIdentifiers><LAchildID>&x;</LAchildID></ChildIdentifiers></Child></Children></Message>\n' >"$IN/evil.xml"
sleep 1.2
before=$(audit)
cycle
ok $? "a cycle with a hostile file still exits 0"
[ -e "$IN/rejected/evil.xml" ] && grep -q 'DOCTYPE not allowed' "$IN/rejected/evil.xml.reason"
ok $? "the hostile file goes to rejected/ with a reason file beside it"
is "$(sql "select status from casesync.inbox_files where name = 'evil.xml'")|$(audit)" "rejected|$((before + 1))" \
	"it is registered as rejected and nothing was applied"
is "$(sql "select action || '|' || remote_id || '|' || version || '|' || outcome from casesync.audit order by seq desc limit 1")" \
	"reject_file|evil.xml|$(sql "select sha256 from casesync.inbox_files where name = 'evil.xml'")|rejected" \
	"the rejection is audited with the file's name and content hash"
! grep -q 'root:' "$IN/rejected/evil.xml.reason" "$T/d.log"
ok $? "neither the reason nor the log carries the entity's content"
is "$(find "$IN" -maxdepth 1 -name '*.tmp' | wc -l)" "0" "no temporary files are left behind"

# --- the provider's changes go out as an import file ------------------------------------
sql "update casestore.person set upn = 'B123456789012' where la_child_id = 'DfEX0000001'"
before=$(audit)
cycle
ok $? "a cycle with a provider change exits 0"
is "$(ls "$T/outbox" | grep -c '^cin-census-person-[0-9a-f]*\.xml$')" "1" \
	"one import file is written to the outbox"
out=$(ls "$T/outbox"/cin-census-person-*.xml)
is "$(python3 - "$out" <<'PYEOF2'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
kids = root.findall('./Children/Child')
print(root.tag, len(kids), kids[0].findtext('ChildIdentifiers/LAchildID'),
      kids[0].findtext('ChildIdentifiers/UPN'), len(kids[0].findall('CINdetails')))
PYEOF2
)" "Message 1 DfEX0000001 B123456789012 1" \
	"it holds the changed child, shaped by the mapping, with its nested collections"
is "$(sql "select count(*) from casesync.change_pending")|$(sql "select count(*) from casesync.audit where outcome = 'written_to_outbox'")" \
	"0|1" "the change is settled and audited"
cycle
is "$(ls "$T/outbox" | wc -l)" "1" "a cycle with nothing new writes no file (and leaves no temporary file)"

finish
