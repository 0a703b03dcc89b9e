#!/bin/bash
# casesync audit trace and export, as an auditor reads them: a record's
# history on both systems in time order, and the whole trail as JSON lines
# or CSV, with values redacted on request.
set -u
. "$(dirname "$0")/lib.sh"
setup_sync_env
CS="$BUILD/casesync -c $CONF"
$CS migrate --with-demo-store >/dev/null 2>&1 || exit 1
daemon_config "$CONF" "$T/daemon.conf"
CSD="$BUILD/casesyncd -c $T/daemon.conf"
role_config auditor "$CONF" "$T/aud.conf"
AUD="$BUILD/casesync -c $T/aud.conf"

$CSD --once 2>/dev/null || exit 1
K=$(sql "select id from casestore.person where la_child_id = '100101'")
sql "update casestore.person set family_name = 'Traceable' where id = $K"
curl -sf "$SIM_URL/api/v1/persons/100101" >"$T/p.json"
python3 -c "import json; d=json.load(open('$T/p.json')); d['name']['forename']='Adah'; print(json.dumps(d))" >"$T/p2.json"
curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' --data @"$T/p2.json" \
	"$SIM_URL/api/v1/persons/100101"
$CSD --once 2>/dev/null || exit 1

# --- trace ------------------------------------------------------------------------
$AUD audit trace person "$K" >"$T/t1.txt" 2>"$T/t1.err"
ok $? "audit trace exits 0 for an auditor"
want=$(sql "select count(*) from casesync.audit where entity = 'person' and (local_key = '$K' or remote_id = '100101')")
is "$(tail -1 "$T/t1.txt")" "$want entries for person $K" "trace lists every entry of the record"
is "$(grep -oE '^[0-9T:.Z-]+  #[0-9]+  [a-z]+ +[a-z_]+' "$T/t1.txt" | awk '{print $3 ":" $4}' | tr '\n' ' ')" \
	"$(sql "select string_agg(source || ':' || action, ' ' order by seq) from casesync.audit
	        where entity = 'person' and (local_key = '$K' or remote_id = '100101')") " \
	"in time order, with the system and the action"
grep -q '    family_name: Testwell -> Traceable' "$T/t1.txt" && grep -q '    given_name: Ada -> Adah' "$T/t1.txt"
ok $? "trace shows each field's old and new value, from both systems"
$AUD audit trace person 100101 >"$T/t2.txt" 2>&1
cmp -s <(sed '$d' "$T/t1.txt") <(sed '$d' "$T/t2.txt")
ok $? "the council's id finds the same history as the provider's key"
$AUD audit trace person "$K" --format json | python3 -c "
import json,sys; a=json.load(sys.stdin)
assert [e['seq'] for e in a]==sorted(e['seq'] for e in a) and len(a)==$want, a
assert any(e['changes'].get('family_name',{}).get('new')=='Traceable' for e in a)"
ok $? "trace --format json: the entries, in order, with their changes"
is "$($AUD audit trace person nosuchkey | tail -1)" "0 entries for person nosuchkey" \
	"an unknown key has no history"
$AUD audit trace person >/dev/null 2>&1
is "$?" "2" "trace without a key is a usage error"

# --- export -----------------------------------------------------------------------
total=$(sql "select count(*) from casesync.audit")
$AUD audit export --format jsonl >"$T/e.jsonl" 2>"$T/e.err"
ok $? "audit export --format jsonl exits 0"
python3 - "$T/e.jsonl" "$total" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == int(sys.argv[2]), len(rows)
assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
need = {"seq", "at", "cycle_id", "actor", "action", "entity", "local_key",
        "remote_id", "source", "version", "outcome", "changes", "erased_at", "hash"}
assert all(set(r) == need for r in rows)
assert all(r["at"].endswith("Z") for r in rows)
PYEOF
ok $? "jsonl: one object per entry, every column, in order, times in UTC"
$AUD audit export --format csv >"$T/e.csv"
python3 - "$T/e.csv" "$total" <<'PYEOF'
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0] == ["seq", "at", "cycle_id", "actor", "action", "entity", "local_key",
                   "remote_id", "source", "version", "outcome", "changes", "erased_at", "hash"], rows[0]
assert len(rows) == int(sys.argv[2]) + 1
for r in rows[1:]:
    json.loads(r[11])
PYEOF
ok $? "csv: one header row, RFC 4180 quoting, the changes as JSON"
$AUD audit export --format jsonl --redact >"$T/r.jsonl"
! grep -qE 'Traceable|Testwell|Adah|2014-05-02' "$T/r.jsonl" && grep -q '"family_name": *{"new": *"\[redacted\]"' "$T/r.jsonl"
ok $? "--redact keeps which fields changed and hides every value"
$AUD audit export --format csv --redact | grep -q 'Traceable'
ok $((! $?)) "--redact works for csv too"
is "$($AUD audit export --format jsonl --from 2999-01-01 | wc -l)" "0" "--from after the last entry: nothing"
is "$($AUD audit export --format jsonl --to 2000-01-01 | wc -l)" "0" "--to before the first entry: nothing"
is "$($AUD audit export --format jsonl --from 2000-01-01 --to 2999-01-01 | wc -l)" "$total" \
	"--from and --to around everything: everything"
$AUD audit export --format jsonl --from yesterdayish >/dev/null 2>"$T/bad.err"
is "$?|$(grep -c 'take timestamps' "$T/bad.err")" "1|1" "a --from that is not a time is refused with a clear message"
$AUD audit export --format xml >/dev/null 2>&1
is "$?" "2" "an unknown export format is a usage error"
$AUD audit frobnicate >/dev/null 2>&1
is "$?" "2" "an unknown audit subcommand is a usage error"
finish
