#!/bin/bash
# The audit trail is tamper-evident: casesync audit verify passes on the
# trail the daemon writes and names the first bad entry after each kind of
# tampering (a flipped byte, an edited value, a deleted, reordered or
# duplicated entry, a truncated tail against a signed checkpoint); values
# erased at the end of their retention still verify; checkpoints are
# signed, stored and exported; keys can be rotated.
set -u
. "$(dirname "$0")/lib.sh"
setup_sync_env
CS="$BUILD/casesync -c $CONF"
$CS migrate --with-demo-store >/dev/null 2>&1 || exit 1
daemon_config "$CONF" "$T/daemon.conf"
mkdir -p "$T/cp"
CSD="$BUILD/casesyncd -c $T/daemon.conf --set audit.signing_key_file=$AUDIT_SIGN --set audit.checkpoint_dir=$T/cp"
role_config auditor "$CONF" "$T/aud.conf"
AUD="$BUILD/casesync -c $T/aud.conf"

# --- a trail written by the daemon --------------------------------------------------
$CSD --once 2>"$T/d1.log" || { cat "$T/d1.log"; exit 1; }
K=$(sql "select id from casestore.person where la_child_id = '100101'")
sql "update casestore.person set family_name = 'Chained' where id = $K"
sql "insert into casestore.person (given_name, family_name, date_of_birth, gender)
     values ('Tamper', 'Proof', '2016-01-02', '1')"
$CSD --once 2>"$T/d2.log" || { cat "$T/d2.log"; exit 1; }
sql "update casestore.person set given_name = 'Erin' where id = $K"
$CSD --once 2>"$T/d3.log" || { cat "$T/d3.log"; exit 1; }
N=$(sql "select count(*) from casesync.audit")
[ "$N" -ge 6 ]
ok $? "the daemon wrote a trail to work on ($N entries)"
is "$(sql "select count(*) = max(seq) and min(seq) = 1 and bool_and(hash ~ '^[0-9a-f]{64}\$' and key_id is not null and digests is not null) from casesync.audit")" \
	"t" "entries are numbered 1..N without gaps, each with its key id, digests and hash"
is "$(sql "select entries || '|' || hash from casesync.audit_head")" \
	"$(sql "select seq || '|' || hash from casesync.audit order by seq desc limit 1")" \
	"the head row names the last entry and its hash"
! grep -qE 'Chained|Erin|Tamper' <(sql "select digests::text || hash from casesync.audit")
ok $? "digests and hashes carry no value in clear"

$AUD audit verify >"$T/v.out" 2>&1
is "$?|$(head -1 "$T/v.out" | cut -d, -f1)" "0|audit trail intact: $N entries" \
	"casesync audit verify: exit 0 on the daemon's trail (as an auditor)"

# --- checkpoints --------------------------------------------------------------------
is "$(sql "select string_agg(entries::text, ' ' order by entries) from casesync.audit_checkpoints")|$(ls "$T/cp" | sort -t- -k2 -n | tr '\n' ' ')" \
	"$(sql "select string_agg(max::text, ' ' order by max) from (select max(seq) from casesync.audit group by cycle_id) m")|$(sql "select string_agg('checkpoint-' || max || '.txt', ' ' order by max) from (select max(seq) from casesync.audit group by cycle_id) m") " \
	"each run signed a checkpoint of the trail as it ended, stored it and exported it to checkpoint_dir"
CP="$T/cp/checkpoint-$N.txt"
is "$(sed -n '1p;2p' "$CP" | tr '\n' '|')" "casesync audit checkpoint v1|entries: $N|" \
	"the exported checkpoint names the entry count"
grep -qx "head: $(sql "select hash from casesync.audit where seq = $N")" "$CP" &&
	grep -qE '^signature: [A-Za-z0-9+/]{86}==$' "$CP"
ok $? "and the head hash, with a base64 Ed25519 signature"
python3 - "$CP" "$AUDIT_PUB" <<'PYEOF'
# The signature checks with a tool of the auditor's own: OpenSSL's pkeyutl.
import base64, subprocess, sys, tempfile, os
lines = open(sys.argv[1]).read().splitlines(True)
msg = "".join(l for l in lines if not l.startswith("signature: "))
sig = base64.b64decode([l for l in lines if l.startswith("signature: ")][0][11:].strip())
d = tempfile.mkdtemp()
open(os.path.join(d, "m"), "w").write(msg)
open(os.path.join(d, "s"), "wb").write(sig)
r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", sys.argv[2],
                    "-rawin", "-in", os.path.join(d, "m"), "-sigfile", os.path.join(d, "s")],
                   capture_output=True)
sys.exit(r.returncode)
PYEOF
ok $? "openssl pkeyutl -verify accepts the checkpoint's signature with the public key"
$AUD audit verify --checkpoint "$CP" >"$T/v.out" 2>&1
ok $? "verify --checkpoint FILE: exit 0 against the exported checkpoint"
grep -q "checkpoints: [0-9]* verified (1 from files)" "$T/v.out"
ok $? "and says which checkpoints it checked"
$BUILD/casesync -c "$T/daemon.conf" --set audit.signing_key_file="$AUDIT_SIGN" audit checkpoint --output "$T/again.txt" 2>"$T/c.err"
is "$?|$(cat "$T/c.err")" "0|the head is signed already; exported its checkpoint: $N entries, head $(sql "select hash from casesync.audit_head")" \
	"casesync audit checkpoint exports the checkpoint of an unchanged head instead of signing it twice"
cmp -s "$CP" "$T/again.txt"
ok $? "the same checkpoint"

rm "$CP"
$BUILD/casesync -c "$T/daemon.conf" --set audit.signing_key_file="$AUDIT_SIGN" --set audit.checkpoint_dir="$T/cp" \
	audit checkpoint >/dev/null 2>&1 && cmp -s "$CP" "$T/again.txt"
ok $? "a checkpoint missing from checkpoint_dir is written there again"
sed 's/^entries: .*/entries: 1/' "$CP" >"$T/forged.txt"
$AUD audit verify --checkpoint "$T/forged.txt" >"$T/v.out" 2>&1
is "$?" "1" "a checkpoint whose count was changed: exit 1"
grep -q "checkpoint from $T/forged.txt (entries 1) does not carry a good signature" "$T/v.out"
ok $? "naming the checkpoint whose signature fails"
openssl genpkey -algorithm ed25519 -out "$T/other.pem" 2>/dev/null
python3 - "$CP" "$T/other.pem" "$T/other.txt" <<'PYEOF'
# A checkpoint of the same head signed with another Ed25519 key.
import base64, hashlib, subprocess, sys, tempfile, os
lines = open(sys.argv[1]).read().splitlines(True)
raw = subprocess.run(["openssl", "pkey", "-in", sys.argv[2], "-pubout", "-outform", "DER"],
                     capture_output=True, check=True).stdout[-32:]
kid = hashlib.sha256(raw).hexdigest()[:16]
msg = "".join(("key: %s\n" % kid) if l.startswith("key: ") else l
              for l in lines if not l.startswith("signature: "))
d = tempfile.mkdtemp()
open(os.path.join(d, "m"), "w").write(msg)
sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", sys.argv[2], "-rawin",
                      "-in", os.path.join(d, "m")], capture_output=True, check=True).stdout
open(sys.argv[3], "w").write(msg + "signature: " + base64.b64encode(sig).decode() + "\n")
PYEOF
$AUD audit verify --checkpoint "$T/other.txt" >"$T/v.out" 2>&1
is "$?" "1" "a checkpoint signed with another key: exit 1"
sql "insert into casesync.audit_checkpoints values ((select min(x) from generate_series(1, $N) x
     where x not in (select entries from casesync.audit_checkpoints)), '$(sed -n 's/^head: //p' "$T/other.txt")', now(),
     '$(sed -n 's/^key: //p' "$T/other.txt")', '$(sed -n 's/^signature: //p' "$T/other.txt")', 'earlier')"
$AUD audit verify >"$T/v.out" 2>&1
is "$?|$(grep -c '1 stored ones signed by another key, not checked' "$T/v.out")" "0|1" \
	"a stored checkpoint of an earlier signing key is reported as not checked, not as tampering"
sql "delete from casesync.audit_checkpoints where made_by = 'earlier'"

# --- tampering ----------------------------------------------------------------------
# Each case alters the trail as the database's owner could, runs verify as
# the auditor, then puts the trail back as it was.
sql "create table public.audit_copy as select * from casesync.audit;
     create table public.head_copy as select * from casesync.audit_head;
     create table public.cp_copy as select * from casesync.audit_checkpoints"
restore() {
	sql "delete from casesync.audit; insert into casesync.audit select * from public.audit_copy;
	     delete from casesync.audit_head; insert into casesync.audit_head select * from public.head_copy;
	     delete from casesync.audit_checkpoints; insert into casesync.audit_checkpoints select * from public.cp_copy;
	     alter table casesync.audit_head enable trigger audit_head_forward"
}
# tampered WHAT SQL ENTRY [VERIFY-ARGS...]: exit 1, naming ENTRY first.
tampered() {
	local what=$1 stmt=$2 entry=$3
	shift 3
	sql "$stmt"
	$AUD audit verify "$@" >"$T/t.out" 2>&1
	local rc=$?
	is "$rc|$(grep -o 'first bad entry [0-9]*' "$T/t.out")" "1|first bad entry $entry" "$what"
	[ $rc -eq 1 ] || cat "$T/t.out"
	restore
}

tampered "a flipped byte in an entry's actor: verify names that entry" \
	"update casesync.audit set actor = overlay(actor placing chr(ascii(substr(actor, 3, 1)) # 1) from 3 for 1) where seq = 3" 3
tampered "a flipped hex digit in a stored hash: that entry" \
	"update casesync.audit set hash = overlay(hash placing (case when substr(hash, 64) = '0' then '1' else '0' end) from 64 for 1) where seq = 4" 4
E=$(sql "select min(seq) from casesync.audit where changes->'family_name'->>'new' = 'Chained'")
tampered "an edited value (family_name) in entry $E: that entry" \
	"update casesync.audit set changes = jsonb_set(changes, '{family_name,new}', '\"Forged\"') where seq = $E" "$E"
grep -q "the value of field family_name (new) does not match its digest (edited)" "$T/t.out"
ok $? "and says which field's value was edited"
tampered "the key id removed (which would make the values uncheckable): that entry, by its hash" \
	"update casesync.audit set key_id = null where seq = 2" 2
tampered "an outcome changed from applied: that entry" \
	"update casesync.audit set outcome = 'rejected' where seq = 2" 2
tampered "a deleted entry: its number" \
	"delete from casesync.audit where seq = 4" 4
grep -q "entry 4 is missing (the next one is 5): deleted" "$T/t.out"
ok $? "and says it is missing"
tampered "a deleted entry with the later ones renumbered to close the gap: the first renumbered" \
	"delete from casesync.audit where seq = 4; update casesync.audit set seq = seq - 1 where seq > 4" 4
tampered "two entries swapped (reordered): the first of them" \
	"update casesync.audit set seq = 1000000 where seq = 2; update casesync.audit set seq = 2 where seq = 3;
	 update casesync.audit set seq = 3 where seq = 1000000" 2
tampered "an entry duplicated at the end, head moved with it: the duplicate" \
	"insert into casesync.audit select $N + 1, at, cycle_id, actor, action, entity, local_key, remote_id,
	   changes, source, version, outcome, digests, key_id, hash, erased_at from casesync.audit where seq = 3;
	 update casesync.audit_head set entries = $N + 1, hash = (select hash from casesync.audit where seq = 3)" "$((N + 1))"
tampered "the last two entries and the stored checkpoints removed, the head left as it was: the first removed" \
	"delete from casesync.audit where seq > $N - 2; delete from casesync.audit_checkpoints" "$((N - 1))"
grep -q "head says $N entries but the trail has $((N - 2))" "$T/t.out"
ok $? "and says the head disagrees with the trail"
# The head only moves forward: the owner has to switch that guard off.
CUT="alter table casesync.audit_head disable trigger audit_head_forward;
     delete from casesync.audit where seq > $N - 2;
     update casesync.audit_head set entries = $N - 2, hash = (select hash from casesync.audit where seq = $N - 2)"
tampered "the tail truncated and the head rewritten to match: the stored checkpoint shows it" \
	"$CUT" "$((N - 1))"
sql "$CUT; delete from casesync.audit_checkpoints"
$AUD audit verify >"$T/t.out" 2>&1
is "$?" "0" "with the stored checkpoints removed too, the database alone cannot show the cut (why checkpoints are kept elsewhere)"
$AUD audit verify --checkpoint "$CP" >"$T/t.out" 2>&1
is "$?|$(grep -o 'first bad entry [0-9]*' "$T/t.out")" "1|first bad entry $((N - 1))" \
	"but the exported checkpoint does: exit 1, naming the first entry cut off"
grep -q "the trail ends at entry $((N - 2)) but the checkpoint from $CP (signed at .*) covers $N entries" "$T/t.out"
ok $? "and says how much is gone"
restore
tampered "the last hash and the head replaced together: that entry" \
	"update casesync.audit set hash = repeat('a', 64) where seq = $N;
	 update casesync.audit_head set hash = repeat('a', 64)" "$N"
# An independent implementation of the entry hash (docs/audit.md), in
# Python: it reproduces every stored hash, and with it the owner can
# rewrite the chain consistently after an edit; only a checkpoint shows it.
cat >"$T/rehash.py" <<'PYEOF'
import hashlib, json, subprocess, sys
def enc(s):
    if s is None:
        return b"\0"
    b = s.encode()
    return b"\1" + len(b).to_bytes(4, "big") + b
def entry_hash(prev, r):
    m = b"casesync-audit-entry-v1\0" + (bytes.fromhex(prev) if prev else bytes(32))
    for k in ("seq", "at", "cycle_id", "actor", "action", "entity", "local_key",
              "remote_id", "source", "version", "outcome", "key_id"):
        m += enc(r[k])
    d = r["digests"]
    m += len(d).to_bytes(4, "big")
    for f in sorted(d, key=lambda x: x.encode()):
        m += enc(f) + len(d[f]).to_bytes(4, "big")
        for p in sorted(d[f], key=lambda x: x.encode()):
            m += enc(p) + enc(d[f][p])
    return hashlib.sha256(m).hexdigest()
q = """select json_agg(json_build_object('seq', seq::text, 'at', to_char(at at time zone 'UTC',
  'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'cycle_id', cycle_id::text, 'actor', actor, 'action', action,
  'entity', entity, 'local_key', local_key, 'remote_id', remote_id, 'source', source,
  'version', version, 'outcome', outcome, 'key_id', key_id, 'digests', digests, 'hash', hash)
  order by seq) from casesync.audit"""
rows = json.loads(subprocess.run(["psql", "-X", "-A", "-t", "-c", q], capture_output=True,
                                 text=True, check=True).stdout)
prev, same, sql = "", 0, []
for r in rows:
    h = entry_hash(prev, r)
    same += h == r["hash"]
    if h != r["hash"]:
        sql.append("update casesync.audit set hash = '%s' where seq = %s;" % (h, r["seq"]))
    prev = h
if sys.argv[1] == "check":
    print("%d/%d" % (same, len(rows)))
else:
    sql.append("update casesync.audit_head set hash = '%s';" % prev)
    subprocess.run(["psql", "-X", "-q", "-c", "".join(sql)], check=True)
PYEOF
is "$(python3 "$T/rehash.py" check)" "$N/$N" \
	"an independent implementation of the entry hash (Python) reproduces every stored hash"
sql "update casesync.audit set actor = 'someone-else' where seq = 3"
python3 "$T/rehash.py" fix
first=$(sql "select min(entries) from casesync.audit_checkpoints where entries >= 3")
$AUD audit verify >"$T/t.out" 2>&1
is "$?|$(grep -o 'first bad entry [0-9]*' "$T/t.out")" "1|first bad entry $first" \
	"an actor changed and every later hash recomputed: the first stored checkpoint after it shows the rewrite"
grep -q "is not the one signed at" "$T/t.out"
ok $? "and says the trail is not the one that was signed"
sql "delete from casesync.audit_checkpoints"
$AUD audit verify --checkpoint "$CP" >"$T/t.out" 2>&1
is "$?|$(grep -o 'first bad entry [0-9]*' "$T/t.out")" "1|first bad entry $N" \
	"with the stored checkpoints gone as well, the exported one shows it"
restore

$AUD audit verify >"$T/v.out" 2>&1
ok $? "restored, the trail verifies again"

# --- erasure at the end of retention ------------------------------------------------
$AUD audit erase --before "$(sql "select now()")" >"$T/e.out" 2>&1
ok $((! $?)) "the auditor cannot erase values"
before=$(sql "select max(at) + interval '1 microsecond' from casesync.audit where seq <= 3")
$CS audit erase --before "$before" --dry-run >"$T/e.out" 2>&1
is "$?|$(sql "select count(*) from casesync.audit where erased_at is not null")" "0|0" "erase --dry-run erases nothing"
$CS audit erase --before "$before" >"$T/e.out" 2>&1
ok $? "casesync audit erase --before T, as the owner"
grep -q "^erased the values of 3 entries written before" "$T/e.out"
ok $? "it says how many entries it erased"
is "$(sql "select count(*) from casesync.audit where erased_at is not null and seq <= 3 and
             not exists (select 1 from jsonb_each(changes) f, jsonb_each(f.value) p where p.value <> 'null')")|$(sql "select count(*) from casesync.audit where seq <= 3 and digests = (select digests from public.audit_copy c where c.seq = audit.seq)")" \
	"3|3" "the values are gone; the digests stay"
$AUD audit verify >"$T/v.out" 2>&1
is "$?" "0" "the trail with erased values still verifies"
grep -q "3 entries have their values erased after retention" "$T/v.out"
ok $? "and verify counts the erased entries"
$AUD audit trace person "$K" >"$T/tr.out" 2>&1
grep -q '(erased)' "$T/tr.out"
ok $? "trace shows erased values as erased"
sql "update casesync.audit set changes = jsonb_set(changes, '{family_name,new}', '\"Forged\"') where seq = 1"
$AUD audit verify >"$T/v.out" 2>&1
is "$?|$(grep -o 'first bad entry [0-9]*' "$T/v.out")" "1|first bad entry 1" \
	"a value written back into an erased entry is still checked against its digest"

# --- keys ---------------------------------------------------------------------------
restore
"$BUILD/casesync" -c "$T/aud.conf" --set audit.key_file= audit verify >"$T/v.out" 2>&1
is "$?" "2" "without audit.key_file verify cannot check the values: exit 2"
(umask 077 && openssl rand -out "$T/new.key" 32)
$CSD --set audit.key_file="$T/new.key" --set audit.previous_key_files="$AUDIT_KEY" --once 2>/dev/null
sql "update casestore.person set given_name = 'Rotated' where id = $K"
$CSD --set audit.key_file="$T/new.key" --set audit.previous_key_files="$AUDIT_KEY" --once 2>"$T/d4.log"
is "$(sql "select count(distinct key_id) from casesync.audit")" "2" \
	"after a key rotation new entries name the new key"
$AUD audit verify >"$T/v.out" 2>&1
is "$?" "2" "verify with only the old key cannot check the new entries: exit 2"
grep -q "which is not among the configured keys" "$T/v.out"
ok $? "and says a key is missing"
$AUD --set audit.key_file="$T/new.key" --set audit.previous_key_files="$AUDIT_KEY" audit verify >"$T/v.out" 2>&1
ok $? "with the new key and the old one as previous_key_files the whole trail verifies"
chmod 644 "$T/new.key"
$AUD --set audit.key_file="$T/new.key" audit verify >"$T/v.out" 2>&1
is "$?" "2" "a key file any user may read is refused"
grep -q "may be read by any user" "$T/v.out"
ok $? "with the reason"
$CS --set audit.signing_key_file="$AUDIT_SIGN" check-config >"$T/cc.out" 2>&1
is "$?|$(grep -c '^audit key [0-9a-f]\{16\}: ok$' "$T/cc.out")|$(grep -c '^audit signing key [0-9a-f]\{16\}: ok$' "$T/cc.out")" \
	"0|1|1" "check-config reads the audit keys and names them by id"
$CS --set audit.key_file="$T/absent.key" check-config >"$T/cc.out" 2>&1
is "$?|$(grep -c "audit.key_file: cannot open $T/absent.key" "$T/cc.out")" "1|1" \
	"check-config: a missing audit key is a problem naming the file"
$BUILD/casesyncd -c "$T/daemon.conf" --set audit.key_file= --once 2>"$T/nokey.log"
is "$?|$(grep -c 'audit.key_file is not set' "$T/nokey.log")" "1|1" \
	"the daemon refuses to start without the audit key, and says why"
! grep -qE 'Chained|Erin|Rotated|Tamper' "$T"/d*.log
ok $? "the daemon's logs hold no value"
finish
