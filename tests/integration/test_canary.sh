#!/bin/bash
# Operational logs and error messages never carry personal data (issue 7,
# item 7). Distinctive canary values (names, dates of birth, NHS numbers,
# UPNs, postcodes, ethnicity, case-note text) are seeded on both sides, the
# daemon, the CLI and the simulator (with its request log) are driven
# through as many paths as one script can reach (sync both ways, edits, a
# manual conflict, quarantined council records, deletes, HTTP faults,
# reconcile, status, import, mapping render, bad configs), every stdout and
# stderr is kept, and then searched, case-insensitively, for every canary in
# the usual spellings. One check per kind of canary; a leak is shown with the
# canary masked.
set -u
. "$(dirname "$0")/lib.sh"
O="$T/out"        # everything searched for canaries
N="$T/nocheck"    # output allowed to show values (conflicts show, --show-values)
mkdir -p "$O" "$N"
use_fresh_db

# --- the canaries ----------------------------------------------------------------------
# Council side: A (synced, edited, conflicted), QD (bad date), QC (unknown
# code), D (deleted). Provider side: B (synced, edited), E (deleted).
A_GIVEN=Zqxcanaryanna A_FAMILY=Vwkcanarysmith A_DOB=2013-07-19
A_NHS=9997318420 A_UPN=N73107190012K A_PC="QK13 9ZX"
B_GIVEN=Zqxcanarybea B_FAMILY=Vwkcanaryjones B_DOB=2012-11-23
B_NHS=9992159367 B_UPN=P23111220120Q
QD_DOB=2013-02-30 QD_NHS=9994682075
QC_DOB=2015-06-11 QC_GENDER=Qcanarygendr
E_NHS=9995804131
IMP_DOB=2011-08-27 IMP_UPN=R27081120117T
NOTE_A="canary-note-Hq7Kp3 council visit: child said home felt unsafe"
NOTE_B="canary-note-Lm4Rt8 provider note about school"
NOTE_L="canary-note-Xy2Wd5 provider edit"
NOTE_R="canary-note-Pz8Gb1 council edit"

python3 - "$T/fixture.json" <<PYEOF
import json, sys
def person(i, g, f, dob, sex, upn, nhs, pc, eth, notes=()):
    return {"id": i, "name": {"forename": g, "surname": f}, "dateOfBirth": dob,
            "gender": sex, "ethnicity": eth,
            "identifiers": {"upn": upn, "nhsNumber": nhs},
            "address": {"postcode": pc, "line1": "7 Vwkcanary Row"},
            "caseNotes": [{"ref": "CN-%s-%d" % (i, n), "occurredAt": "2024-03-0%dT10:00:00Z" % (n + 1),
                           "type": "visit", "workerRef": "W1", "childSeen": True,
                           "childSeenAlone": False, "summary": s} for n, s in enumerate(notes)]}
json.dump({"persons": [
    person("200701", "$A_GIVEN", "$A_FAMILY", "$A_DOB", "F", "$A_UPN", "$A_NHS", "$A_PC", "WROM", ["$NOTE_A"]),
    person("200702", "Zqxcanaryqdate", "Vwkcanaryqdate", "$QD_DOB", "M", None, "$QD_NHS", "QK13 8ZX", "MWAS",
           ["canary-note-Qd5Fs2 quarantined note"]),
    person("200703", "Zqxcanaryqcode", "Vwkcanaryqcode", "$QC_DOB", "$QC_GENDER", None, None, "QK13 7ZX", "WROM"),
    person("200704", "Zqxcanarydel", "Vwkcanarydel", "$QC_DOB", "M", None, None, "QK13 6ZX", "MWAS",
           ["canary-note-Dl3Vc9 deleted note"]),
]}, open(sys.argv[1], "w"))
PYEOF

# The simulator logs its requests (no --quiet); its stderr is searched too.
rm -f "$T/port"
"$SIM" --port-file "$T/port" --fixture "$T/fixture.json" 2>"$O/sim.err" &
SIM_PID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
SIM_PORT=$(cat "$T/port")
SIM_URL="http://127.0.0.1:$SIM_PORT"
CONF="$T/casesync.conf"
write_config "$CONF"
sed -i 's/^log_level = info/log_level = debug/' "$CONF"
# given_name is decided by a person, as in test_conflicts.sh.
cp -R "$ROOT/mappings" "$T/mappings"
python3 - "$T/mappings/lcs-rest/person.json" <<'PYEOF'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
m["entities"]["person"]["fields"]["given_name"]["policy"] = "manual"
json.dump(m, open(p, "w"), indent=2)
PYEOF
sed -i "s|^dir = .*|dir = $T/mappings|" "$CONF"

# The PostgreSQL server log, when it can be found cheaply: only what this
# script adds to it is searched.
PGLOG=
d=$(sql "select setting from pg_settings where name = 'data_directory'" 2>/dev/null)
f=$(sql "select coalesce(pg_current_logfile(), '')" 2>/dev/null)
if [ -n "$f" ] && [ -r "$d/$f" ]; then PGLOG="$d/$f"
elif [ -n "$f" ] && [ -r "$f" ]; then PGLOG="$f"
elif [ -n "$d" ] && [ -r "$(dirname "$d")/log" ]; then PGLOG="$(dirname "$d")/log"
else
	# Debian's clusters (pg_virtualenv's too) log to
	# /var/log/postgresql/postgresql-VERSION-NAME.log.
	c=$(sql "show cluster_name" 2>/dev/null | tr / -)
	[ -n "$c" ] && [ -r "/var/log/postgresql/postgresql-$c.log" ] &&
		PGLOG="/var/log/postgresql/postgresql-$c.log"
fi
[ -n "$PGLOG" ] && PGLOG_OFF=$(($(stat -c %s "$PGLOG") + 1))
# The server set up as docs/database.md asks: with PostgreSQL's default
# log_error_verbosity a refused INSERT or UPDATE is logged with a DETAIL
# quoting the key or the whole row. Put back at the end.
sql "ALTER SYSTEM SET log_error_verbosity = 'terse'" >/dev/null &&
	sql "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 50); do
	[ "$(sql "show log_error_verbosity")" = terse ] && break
	sleep 0.1
done

n_run=0
# run NAME CMD...: stdout and stderr kept (and searched).
run() { local n=$1; shift; n_run=$((n_run + 1)); "$@" >"$O/$n.out" 2>"$O/$n.err"; }
# runv NAME CMD...: stdout may show values (not searched), stderr is searched.
runv() { local n=$1; shift; n_run=$((n_run + 1)); "$@" >"$N/$n.out" 2>"$O/$n.err"; }
CS="$BUILD/casesync -c $CONF"
run migrate $CS migrate --with-demo-store || { ok 1 "migrate"; finish; exit 1; }
daemon_config "$CONF" "$T/daemon.conf"
cycle() { run "cycle-$1" "$BUILD/casesyncd" -c "$T/daemon.conf" --once; }
council_set() { # ID PY-STATEMENT (d is the record)
	curl -sf "$SIM_URL/api/v1/persons/$1" >"$T/p.json" || return 1
	python3 -c "import json; d=json.load(open('$T/p.json')); $2; print(json.dumps(d))" >"$T/p2.json"
	curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' \
		--data @"$T/p2.json" "$SIM_URL/api/v1/persons/$1"
}
faults() { curl -sf -o /dev/null -X POST "$SIM_URL/_sim/faults" -d "$1"; }

# Provider rows with canaries.
sql "insert into casestore.person (given_name, family_name, date_of_birth, gender, upn, nhs_number, ethnicity)
     values ('$B_GIVEN', '$B_FAMILY', '$B_DOB', '2', '$B_UPN', '$B_NHS', 'MWAS'),
            ('Zqxcanaryedel', 'Vwkcanaryedel', '2012-11-23', '1', null, '$E_NHS', 'WROM')"
sql "insert into casestore.case_note (person_id, note_ref, occurred_at, contact_type, worker_ref, seen, seen_alone, summary)
     select id, 'PN-1', '2024-04-01T09:00:00Z', 'phone', 'W2', true, true, '$NOTE_B'
     from casestore.person where family_name = '$B_FAMILY'"

# --- a two-way sync ---------------------------------------------------------------------
cycle 1
ok $? "first cycle exits 0"
is "$(sql "select count(*) from casestore.person where la_child_id in ('200701','200704') and family_name like 'Vwkcanary%'")" \
	"2" "the council's canary persons reached the provider store"
B_ID=$(sql "select la_child_id from casestore.person where family_name = '$B_FAMILY'")
E_ID=$(sql "select la_child_id from casestore.person where family_name = 'Vwkcanaryedel'")
[ -n "$B_ID" ] && [ "$(sim_json "/api/v1/persons/$B_ID" "d['name']['surname']")" = "$B_FAMILY" ]
ok $? "the provider's canary person reached the council"
# Nested collections travel inside the council's record (docs/ARCHITECTURE.md):
# the council's case note rides through the daemon's pushes untouched, the
# provider's waits in change_pending; both pass through the daemon's code.
is "$(sim_json /api/v1/persons/200701 "d['caseNotes'][0]['summary']")|$(sql "select count(*) from casesync.change_pending where entity = 'case_note'")" \
	"$NOTE_A|1" "the case notes went through the daemon (council payload kept, provider note pending)"
is "$(sql "select string_agg(remote_id, ',' order by remote_id) from casesync.quarantine")" \
	"200702,200703" "the two invalid council records are quarantined"
cycle 2

# --- edits on both sides, and a manual conflict ------------------------------------------
sql "update casestore.person set family_name = '${B_FAMILY}x', date_of_birth = '2012-11-24' where la_child_id = '$B_ID'"
council_set 200701 "d['name']['surname']='${A_FAMILY}e'; d['dateOfBirth']='2013-07-20'"
sql "update casestore.person set given_name = '${A_GIVEN}ie' where la_child_id = '200701'"
council_set 200701 "d['name']['forename']='${A_GIVEN}ya'"
sql "update casestore.case_note set summary = '$NOTE_L' where summary = '$NOTE_A'"
council_set 200701 "d['caseNotes'][0]['summary']='$NOTE_R'"
cycle 3
ok $? "the cycle with edits and conflicts exits 0"
nconf=$(sql "select count(*) from casesync.conflicts where status = 'open'")
[ "$nconf" -ge 1 ]
ok $? "conflicts are open ($nconf)"
run conflicts-list $CS conflicts list
ok $? "conflicts list exits 0"
run conflicts-list-json $CS conflicts list --format json
run conflicts-list-all $CS conflicts list --status all
for id in $(sql "select id from casesync.conflicts where status = 'open' order by id"); do
	runv "conflicts-show-$id" $CS conflicts show "$id"
	runv "conflicts-show-json-$id" $CS conflicts show "$id" --format json
	run "conflicts-resolve-bad-$id" $CS conflicts resolve "$id" --value nosuch=Zqxcanaryval --reason r
	run "conflicts-resolve-$id" $CS conflicts resolve "$id" --take remote --reason "checked with the family"
done
grep -q . "$N"/conflicts-show-*.out 2>/dev/null
ok $? "conflicts show printed the values (not searched: it is meant to)"
run conflicts-resolve-unknown $CS conflicts resolve 99999 --take local --reason r
cycle 4
is "$(sql "select count(*) from casesync.conflicts where status = 'open'")" "0" \
	"the conflicts were resolved and applied"

# --- deletes, both ways -------------------------------------------------------------------
curl -sf -o /dev/null -X DELETE "$SIM_URL/api/v1/persons/200704"
sql "delete from casestore.person where la_child_id = '$E_ID'"
cycle 5
is "$(sql "select count(*) from casestore.person where la_child_id = '200704'")|$(curl -s -o /dev/null -w '%{http_code}' "$SIM_URL/api/v1/persons/$E_ID")" \
	"0|404" "a deletion went each way"
# Delete versus modify.
sql "update casestore.person set family_name = '${B_FAMILY}y' where la_child_id = '$B_ID'"
curl -sf -o /dev/null -X DELETE "$SIM_URL/api/v1/persons/$B_ID"
cycle 6
run conflicts-list-2 $CS conflicts list --status all

# --- HTTP faults: error paths log ----------------------------------------------------------
sql "update casestore.person set given_name = 'Zqxcanaryannb', nhs_number = '$A_NHS' where la_child_id = '200701'"
faults '{"rules": [{"match": "PUT /api/v1/persons/", "times": 20, "fault": "status", "status": 500}]}'
cycle 7-put500
faults '{"rules": [{"match": "PUT /api/v1/persons/", "times": 20, "fault": "status", "status": 400}]}'
cycle 8-put400
faults '{"rules": [{"match": "GET /api/v1/persons/", "times": 20, "fault": "malformed"}]}'
cycle 9-malformed
faults '{"rules": [{"match": "GET /api/v1/persons/", "times": 20, "fault": "truncated"}]}'
cycle 10-truncated
faults '{"rules": [{"match": "PUT /api/v1/persons/", "times": 1, "fault": "status", "status": 422},
                   {"match": "POST /api/v1/persons", "times": 20, "fault": "status", "status": 409}]}'
sql "insert into casestore.person (given_name, family_name, date_of_birth, gender, nhs_number)
     values ('Zqxcanarynew', 'Vwkcanarynew', '$A_DOB', '2', '$A_NHS')"
cycle 11-post409
curl -sf -o /dev/null -X DELETE "$SIM_URL/_sim/faults"
cycle 12
grep -qE 'status|HTTP|500|400' "$O"/cycle-7-put500.err "$O"/cycle-8-put400.err
ok $? "the injected HTTP errors were logged"
cycle 13

# --- database errors: provider constraints the council's data breaks ---------------------
# PostgreSQL's messages quote values (DETAIL: Key (...)=(...), Failing row
# contains (...)); the daemon must not pass them on.
sql "update casestore.person set nhs_number = null where given_name = 'Zqxcanarynew'"
sql "create unique index canary_nhs_unique on casestore.person (nhs_number)"
sql "alter table casestore.person add constraint canary_no_boom check (family_name is distinct from 'Vwkcanaryboom')"
curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' "$SIM_URL/api/v1/persons" \
	-d "{\"name\": {\"forename\": \"Zqxcanarydup\", \"surname\": \"Vwkcanarydup\"}, \"dateOfBirth\": \"$A_DOB\",
	     \"gender\": \"F\", \"identifiers\": {\"nhsNumber\": \"$A_NHS\"}, \"address\": {\"postcode\": \"$A_PC\"}}"
ok $? "the council creates a person whose NHS number the provider already holds"
cycle 14-unique
council_set 200701 "d['name']['surname']='Vwkcanaryboom'"
cycle 15-check
grep -qE 'level=(warn|error)' "$O/cycle-14-unique.err" && grep -qE 'level=(warn|error)' "$O/cycle-15-check.err"
ok $? "the constraint violations were logged"
sql "drop index casestore.canary_nhs_unique"
sql "alter table casestore.person drop constraint canary_no_boom"
cycle 16

# --- reconcile and status ---------------------------------------------------------------------
for fmt in text csv json html; do
	run "reconcile-$fmt" $CS reconcile --format "$fmt"
	run "reconcile-all-$fmt" $CS reconcile --all --format "$fmt"
done
grep -q . "$O/reconcile-all-text.out"
ok $? "reconcile --all printed its report"
runv reconcile-values $CS reconcile --all --show-values
runv reconcile-values-json $CS reconcile --all --show-values --format json
run status $CS status
run status-json $CS status --format json

# --- mapping render errors ---------------------------------------------------------------------
cat >"$T/bad-local.json" <<EOF
{"la_child_id": "1", "given_name": "$A_GIVEN", "family_name": "$A_FAMILY", "date_of_birth": "$QD_DOB",
 "nhs_number": "$A_NHS", "upn": "$A_UPN", "ethnicity": "WROM", "gender": "2"}
EOF
run render-bad-date $CS mapping render --entity person --from local "$T/bad-local.json"
is "$?|$(grep -c 'date_of_birth' "$O/render-bad-date.err")" "1|1" "render of an invalid date exits 1 naming the field"
cat >"$T/bad-remote.json" <<EOF
{"id": "9", "name": {"forename": "$A_GIVEN", "surname": "$A_FAMILY"}, "dateOfBirth": "$A_DOB",
 "gender": "$QC_GENDER", "identifiers": {"nhsNumber": "$A_NHS", "upn": "$A_UPN"},
 "caseNotes": [{"ref": "x", "occurredAt": "2024-01-01T00:00:00Z", "type": "visit", "summary": "$NOTE_A"}]}
EOF
run render-bad-code $CS mapping render --entity person --from remote "$T/bad-remote.json"
is "$?|$(grep -c 'gender' "$O/render-bad-code.err")" "1|1" "render of an unknown code exits 1 naming the field"
sed "s/\"$A_NHS\"/\"9997318421\"/; s/\"$QC_GENDER\"/\"F\"/" "$T/bad-remote.json" >"$T/bad-nhs.json"
run render-bad-nhs $CS mapping render --entity person --from remote "$T/bad-nhs.json"
is "$?|$(grep -c 'nhs_number' "$O/render-bad-nhs.err")" "1|1" "render of a bad NHS check digit exits 1 naming the field"
sed "s/\"$A_UPN\"/\"N7310719001\"/; s/\"$QC_GENDER\"/\"F\"/" "$T/bad-remote.json" >"$T/bad-upn.json"
run render-bad-upn $CS mapping render --entity person --from remote "$T/bad-upn.json"
sed "s/\"2024-01-01T00:00:00Z\"/\"$A_DOB canary-time\"/; s/\"$QC_GENDER\"/\"F\"/" "$T/bad-remote.json" >"$T/bad-dt.json"
run render-bad-datetime $CS mapping render --entity person --from remote "$T/bad-dt.json"
printf '{"given_name": "%s", "family_name": ' "$A_GIVEN" >"$T/trunc.json"
run render-bad-json $CS mapping render --entity person --from local "$T/trunc.json"

# --- import of extract files (cin-census) -----------------------------------------------------
CIN="$ROOT/../shared/data/cin"
if [ -r "$CIN/cin-2022.xml" ] && [ -r "$CIN/CIN_schema_2024.xsd" ]; then
	python3 - "$CIN/cin-2022.xml" "$T" "$IMP_DOB" "$IMP_UPN" <<'PYEOF'
import sys
src, t, dob, upn = sys.argv[1:]
text = open(src, encoding='utf-8').read()
def sub(s, a, b):
    assert a in s, a
    return s.replace(a, b, 1)
good = sub(text, '<LAchildID>DfEX0000001</LAchildID>', '<LAchildID>CANX0000001</LAchildID>')
good = sub(good, '<UPN>A123456789123</UPN>', '<UPN>%s</UPN>' % upn)
good = sub(good, '<PersonBirthDate>1966-03-24</PersonBirthDate>', '<PersonBirthDate>%s</PersonBirthDate>' % dob)
good = sub(good, '<Ethnicity>WBRI</Ethnicity>', '<Ethnicity>WROM</Ethnicity>')
open(t + '/imp-good.xml', 'w', encoding='utf-8').write(good)
# Fails the XSD: a bad gender, canaries around it.
bad = sub(good, '<GenderCurrent>1</GenderCurrent>', '<GenderCurrent>7</GenderCurrent>')
open(t + '/imp-xsd.xml', 'w', encoding='utf-8').write(bad)
# A bad date in one record, no schema: quarantined.
q = sub(good, '<LAchildID>CANX0000001</LAchildID>', '<LAchildID>CANX0000002</LAchildID>')
q = sub(q, '<PersonBirthDate>%s</PersonBirthDate>' % dob, '<PersonBirthDate>2013-02-30</PersonBirthDate>')
open(t + '/imp-quar.xml', 'w', encoding='utf-8').write(q)
# Not well-formed, cut inside a canary value.
open(t + '/imp-broken.xml', 'w', encoding='utf-8').write(good[:good.index(upn) + 5])
PYEOF
	run import-good $CS import --mapping cin-census --schema "$CIN/CIN_schema_2024.xsd" "$T/imp-good.xml"
	ok $? "an extract with canaries imports"
	run import-again $CS import --mapping cin-census "$T/imp-good.xml"
	run import-xsd $CS import --mapping cin-census --schema "$CIN/CIN_schema_2024.xsd" "$T/imp-xsd.xml"
	is "$?" "1" "an extract failing the XSD is rejected"
	run import-quar $CS import --mapping cin-census "$T/imp-quar.xml"
	grep -q '1 quarantined' "$O/import-quar.out"
	ok $? "an extract record with a bad date is quarantined"
	run import-broken $CS import --mapping cin-census "$T/imp-broken.xml"
	is "$?" "1" "a truncated extract is rejected"
	run render-cin-bad $CS mapping render --mapping cin-census --entity person --from remote "$T/imp-quar.xml"
else
	ok 0 "casesync import # SKIP ../shared/data/cin absent"
fi

# --- casesyncd and casesync refusing bad configs and mappings -----------------------------
mkdir -p "$T/maps/broken"
cp "$ROOT/mappings/model.json" "$T/maps/"
sed 's|"remote": "/dateOfBirth"|"remote": "dateOfBirth"|' "$ROOT/mappings/lcs-rest/person.json" >"$T/maps/broken/person.json"
run daemon-bad-mapping "$BUILD/casesyncd" -c "$T/daemon.conf" --once --set mappings.dir="$T/maps" --set mappings.use=broken
ok $((! $?)) "the daemon refuses a broken mapping"
run checkconfig-bad $CS check-config --set mappings.dir="$T/maps" --set mappings.use=broken
printf '[database]\nconninfo = dbname=nowhere\n[daemon]\nbogus = %s\n' "$A_GIVEN" >"$T/bad.conf"
run daemon-bad-config "$BUILD/casesyncd" -c "$T/bad.conf" --once
ok $((! $?)) "the daemon refuses a bad config"
run daemon-no-sim "$BUILD/casesyncd" -c "$T/daemon.conf" --once --set remote.url=http://127.0.0.1:1/api/v1
run daemon-nonloopback "$BUILD/casesyncd" -c "$T/daemon.conf" --once --set remote.url=http://192.0.2.1/api/v1
run daemon-bad-db "$BUILD/casesyncd" -c "$T/daemon.conf" --once --set "database.conninfo=host=127.0.0.1 port=1"
run cli-bad-db $CS status --set "database.conninfo=host=127.0.0.1 port=1"

# --- the search -----------------------------------------------------------------------------
stop_sim
grep -q 'persons' "$O/sim.err"
ok $? "the simulator's request log was captured"
if [ -n "$PGLOG" ]; then
	mkdir -p "$T/pg"
	tail -c "+$PGLOG_OFF" "$PGLOG" >"$T/pg/postgresql.log" 2>/dev/null
fi

# scan DIR-OR-FILES... -- CANARY...: prints each line holding a canary,
# masked; exit 1 when one is found.
scan() {
	python3 - "$@" <<'PYEOF'
import os, re, sys
args = sys.argv[1:]
i = args.index('--')
paths, canaries = args[:i], [c for c in args[i + 1:] if c]
files = []
for p in paths:
    if os.path.isdir(p):
        files += sorted(os.path.join(p, f) for f in os.listdir(p))
    else:
        files.append(p)
rx = re.compile('|'.join(re.escape(c) for c in canaries), re.I)
found = 0
for f in files:
    with open(f, encoding='utf-8', errors='replace') as fh:
        for n, line in enumerate(fh, 1):
            if rx.search(line):
                found += 1
                if found <= 10:
                    print('#   %s:%d: %s' % (os.path.basename(f), n, rx.sub('[CANARY]', line.rstrip('\n'))[:300]))
if found > 10:
    print('#   ... %d lines in all' % found)
sys.exit(1 if found else 0)
PYEOF
}
# A date in the spellings a log might use.
dates() {
	local d
	for d in "$@"; do
		local y=${d:0:4} m=${d:5:2} dd=${d:8:2}
		printf '%s\n' "$d" "$dd/$m/$y" "$y$m$dd" "$dd.$m.$y" "$m/$dd/$y" "$dd-$m-$y" "$y/$m/$dd"
	done
}
nhs() {
	local x
	for x in "$@"; do printf '%s\n' "$x" "${x:0:3} ${x:3:3} ${x:6:4}" "${x:0:3}-${x:3:3}-${x:6:4}"; done
}
mapfile -t K_NAMES < <(printf '%s\n' zqxcanary vwkcanary)
mapfile -t K_DOB < <(dates "$A_DOB" 2013-07-20 "$B_DOB" 2012-11-24 "$QD_DOB" "$QC_DOB" "$IMP_DOB")
mapfile -t K_NHS < <(nhs "$A_NHS" "$B_NHS" "$QD_NHS" "$E_NHS" 9997318421)
K_UPN=("$A_UPN" "$B_UPN" "$IMP_UPN" N7310719001)
K_PC=("$A_PC" QK139ZX "QK13 8ZX" "QK13 7ZX" "QK13 6ZX")
K_NOTE=(canary-note Hq7Kp3 Lm4Rt8 Xy2Wd5 Pz8Gb1)
K_ETH=(WROM MWAS)
K_BAD=("$QC_GENDER" canary-time)

# The scanner itself: it must find a planted canary of each kind.
printf 'x %s x\n' "${K_NAMES[0]}Anna" "19/07/2013" "999 731 8420" "$A_UPN" "qk13 9zx" "$NOTE_A" "wrom" "$QC_GENDER" >"$T/planted"
selftest=0
for k in K_NAMES K_DOB K_NHS K_UPN K_PC K_NOTE K_ETH K_BAD; do
	declare -n arr=$k
	scan "$T/planted" -- "${arr[@]}" >/dev/null && selftest=1
	unset -n arr
done
ok $selftest "the scanner finds a planted canary of every kind"

nfiles=$(ls "$O" | wc -l)
echo "# searching $nfiles captured outputs ($(cat "$O"/* | wc -l) lines) from $n_run runs"
scan "$O" -- "${K_NAMES[@]}"; ok $? "no given or family name in any log or output"
scan "$O" -- "${K_DOB[@]}"; ok $? "no date of birth (any spelling) in any log or output"
scan "$O" -- "${K_NHS[@]}"; ok $? "no NHS number (with or without spaces) in any log or output"
scan "$O" -- "${K_UPN[@]}"; ok $? "no UPN in any log or output"
scan "$O" -- "${K_PC[@]}"; ok $? "no postcode in any log or output"
scan "$O" -- "${K_NOTE[@]}"; ok $? "no case-note text in any log or output"
scan "$O" -- "${K_ETH[@]}"; ok $? "no ethnicity code in any log or output"
scan "$O" -- "${K_BAD[@]}"; ok $? "no rejected invalid value in any log or output"
# The server's own log, with log_error_verbosity = terse (docs/database.md):
# cycles 14 and 15 above provoke a refused INSERT and a refused UPDATE.
if [ -n "$PGLOG" ]; then
	scan "$T/pg" -- "${K_NAMES[@]}" "${K_DOB[@]}" "${K_NHS[@]}" "${K_UPN[@]}" "${K_PC[@]}" \
		"${K_NOTE[@]}" "${K_ETH[@]}" "${K_BAD[@]}"
	ok $? "no canary in what this script added to the PostgreSQL server log ($PGLOG)"
else
	ok 0 "no canary in the PostgreSQL server log # SKIP not found"
fi
sql "ALTER SYSTEM RESET log_error_verbosity" >/dev/null && sql "SELECT pg_reload_conf()" >/dev/null

# CANARY_KEEP=DIR keeps everything captured, for a look by hand.
[ -n "${CANARY_KEEP:-}" ] && rm -rf "$CANARY_KEEP" && cp -R "$T" "$CANARY_KEEP"

finish
