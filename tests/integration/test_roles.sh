#!/bin/bash
# The roles casesync migrate installs, tried for real: each statement runs
# as a login role that is only a member of casesync_daemon,
# casesync_auditor or casesync_datalead, and a refusal must carry SQLSTATE
# 42501 (insufficient privilege). Also: capture follows the mappings.
set -u
. "$(dirname "$0")/lib.sh"
setup_sync_env
"$BUILD/casesync" -c "$CONF" migrate --with-demo-store >"$T/m.out" 2>&1
ok $? "migrate installs schemas, roles and capture"

pw=${PGPASSWORD:-pw$$${RANDOM}x}
for r in daemon auditor datalead; do  # cs_app_$$ is created further down
	sql "CREATE ROLE cs_${r}_$$ LOGIN PASSWORD '$pw' IN ROLE casesync_$r"
done
echo "*:*:*:*:$pw" >"$T/pgpass"
chmod 600 "$T/pgpass"

# as ROLE SQL: prints the SQLSTATE of the failure, or "ok".
as() {
	local out
	out=$(PGPASSFILE="$T/pgpass" psql -X -q -A -t -h localhost -U "cs_$1_$$" \
		-v ON_ERROR_STOP=1 -c '\set VERBOSITY verbose' \
		-c "$2" 2>&1 >/dev/null)
	if [ $? -eq 0 ]; then echo ok; else
		echo "$out" | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' | head -1; fi
}

# Something in each table to act on.
sql "insert into casestore.person (family_name, la_child_id) values ('Rolecheck', 'R1')"
sql "insert into casesync.cycles (instance) values ('t')"
sql "insert into casesync.audit (seq, at, actor, action, entity, source, outcome)
     values (1, now(), 't', 'create_local', 'person', 'council', 'applied')"
sql "insert into casesync.audit_checkpoints values (1, repeat('0', 64), now(), 'k', 's', 't')"
sql "insert into casesync.conflicts (entity, local_key, fields)
     values ('person', '1', '{}')"

# --- role attributes ------------------------------------------------------------
is "$(sql "select string_agg(rolname || ':' || rolsuper::text || rolbypassrls::text || rolcreaterole::text ||
           rolcreatedb || rolcanlogin, ',' order by rolname) from pg_roles
           where rolname like 'casesync\_%'")" \
	"casesync_auditor:falsefalsefalsefalsefalse,casesync_daemon:falsefalsefalsefalsefalse,casesync_datalead:falsefalsefalsefalsefalse" \
	"the three roles are not superuser, NOBYPASSRLS, cannot create roles or databases, cannot log in"
is "$(sql "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname in ('casesync', 'casestore')
           and pg_has_role('casesync_daemon', c.relowner, 'MEMBER')")" "0" \
	"casesync_daemon owns nothing in casesync or casestore"

# --- the daemon -------------------------------------------------------------------
is "$(as daemon "update casesync.audit set outcome = 'x'")" "42501" \
	"the daemon cannot UPDATE audit rows"
is "$(as daemon "delete from casesync.audit")" "42501" \
	"the daemon cannot DELETE audit rows"
is "$(as daemon "truncate casesync.audit")" "42501" \
	"the daemon cannot TRUNCATE the audit table"
is "$(as daemon "insert into casesync.audit (seq, at, actor, action, entity, source, outcome)
                 values (2, now(), 'd', 'create_local', 'person', 'council', 'applied');
                 select count(*) from casesync.audit")" "ok" \
	"the daemon can INSERT and SELECT audit rows"
is "$(as daemon "select entries from casesync.audit_head for update")" "ok" \
	"the daemon can lock the chain's head (it chains what it writes)"
is "$(as daemon "update casesync.audit_head set entries = entries - 1")" "42501" \
	"the chain's head only moves forward"
is "$(as daemon "update casesync.audit_checkpoints set head = repeat('1', 64)")|$(as daemon "delete from casesync.audit_checkpoints")" \
	"42501|42501" "the daemon cannot alter or remove a signed checkpoint"
is "$(as daemon "alter table casesync.audit disable trigger all")" "42501" \
	"the daemon cannot alter the audit table"
is "$(as daemon "insert into casesync.schema_version values ('casesync', 99, 'x')")" "42501" \
	"the daemon cannot change the schema version"
is "$(as daemon "truncate casesync.change_log")" "42501" \
	"the daemon cannot TRUNCATE the change log"
is "$(as daemon "select id, family_name, la_child_id from casestore.person")" "ok" \
	"the daemon reads the mapped columns of a mapped table"
is "$(as daemon "select created_at from casestore.person")" "42501" \
	"the daemon cannot read a column no mapping uses"
is "$(as daemon "begin; delete from casestore.person where la_child_id = 'R1'; rollback")" "ok" \
	"the daemon can DELETE a mapped record (a council deletion, settled as a tombstone)"
is "$(as daemon "truncate casestore.person")" "42501" \
	"the daemon cannot TRUNCATE case records"
is "$(as daemon "begin; set local casesync.origin = 'remote';
                 update casestore.person set family_name = 'Daemon' where la_child_id = 'R1';
                 rollback")" "ok" \
	"the daemon can UPDATE mapped columns"
is "$(as daemon "update casestore.person set id = id + 1000 where la_child_id = 'R1'")" "42501" \
	"the daemon cannot write the key column"
is "$(as daemon "select casesync.install_capture('casestore.person', 'person', 'id', '{}', '{}')")" \
	"42501" "the daemon cannot (re)install capture"
is "$(as daemon "create table casesync.mine (x int)")" "42501" \
	"the daemon cannot create objects in schema casesync"

# --- the auditor ------------------------------------------------------------------
is "$(as auditor "select count(*) from casesync.audit")" "ok" "the auditor reads the audit trail"
is "$(as auditor "select count(*) from casesync.cycles")" "ok" "the auditor reads the cycles"
is "$(as auditor "select count(*) from casestore.person")" "42501" \
	"the auditor cannot read case records"
is "$(as auditor "select count(*) from casesync.base")" "42501" \
	"the auditor cannot read the base snapshots (case data)"
is "$(as auditor "select count(*) from casesync.conflicts")" "42501" \
	"the auditor cannot read conflict values (case data)"
is "$(as auditor "update casesync.audit set outcome = 'x'")" "42501" \
	"the auditor cannot UPDATE audit rows"
is "$(as auditor "insert into casesync.audit (seq, at, actor, action, entity, source, outcome)
                  values (3, now(), 'a', 'x', 'person', 'council', 'x')")" "42501" \
	"the auditor cannot INSERT audit rows"
is "$(as auditor "select count(*) from casesync.audit_head, casesync.audit_checkpoints")|$(as auditor "update casesync.audit_head set entries = 0")|$(as auditor "insert into casesync.audit_checkpoints values (2, repeat('0', 64), now(), 'k', 's', 't')")" \
	"ok|42501|42501" "the auditor reads the chain's head and the checkpoints, and changes neither"

# --- the data lead ----------------------------------------------------------------
is "$(as datalead "select count(*) from casesync.conflicts")" "ok" \
	"the data lead reads the conflict queue"
is "$(as datalead "update casesync.conflicts set status = 'resolved', resolved_by = 'dl',
                   reason = 'checked with the family', resolved_at = now()")" "ok" \
	"the data lead can resolve a conflict"
is "$(as datalead "update casesync.conflicts set fields = '{}'")" "42501" \
	"the data lead cannot rewrite a conflict's values"
is "$(as datalead "update casesync.audit set outcome = 'x'")" "42501" \
	"the data lead cannot UPDATE audit rows"
is "$(as datalead "insert into casesync.audit (seq, at, actor, action, entity, source, outcome)
                   values (90, now(), 'test-instance', 'delete_local', 'person', 'council', 'applied')")" "42501" \
	"the data lead cannot write an entry in the daemon's name"
is "$(as datalead "insert into casesync.audit (seq, at, actor, action, entity, source, outcome)
                   values (91, now(), session_user, 'resolve_conflict', 'person', 'person', 'resolved')")" "ok" \
	"the data lead writes entries in their own name"
is "$(as datalead "delete from casesync.audit")" "42501" \
	"the data lead cannot DELETE audit rows"
is "$(as datalead "select family_name from casestore.person")" "ok" \
	"the data lead reads mapped case data (reconciliation reports)"
is "$(as datalead "update casestore.person set family_name = 'x'")" "42501" \
	"the data lead cannot write case records directly"

# --- nobody forges or skips capture ------------------------------------------------
fn=$(sql "select function_name from casesync.capture where entity = 'person'")
is "$(as auditor "create temp table x (id text);
                  create trigger f after insert on x referencing new table as new_rows
                  for each statement execute function casesync.$fn('person', '{}')")" "42501" \
	"a casesync role cannot attach a capture function to a table of its own"
sql "create role cs_app_$$ login password '$pw';
     grant usage on schema casestore to cs_app_$$;
     grant select, insert, update on casestore.person to cs_app_$$;
     grant usage on sequence casestore.person_id_seq to cs_app_$$"
before=$(sql "select count(*) from casesync.change_log")
is "$(as app "set casesync.origin = 'remote';
              update casestore.person set family_name = 'Sneaky' where la_child_id = 'R1'")" "ok" \
	"an application role updates a mapped column claiming to be the daemon"
is "$(sql "select count(*) from casesync.change_log")" "$((before + 1))" \
	"... and is captured all the same: only casesync_daemon's members may skip capture"

# --- the daemon refuses roles that are more than casesync_daemon ---------------------
daemon_as() { # daemon_as ROLE: runs one cycle logging in as ROLE
	sed "s|^conninfo =.*|conninfo = user=$1 host=localhost passfile=$T/pgpass|" \
		"$CONF" >"$T/as.conf"
	"$BUILD/casesyncd" -c "$T/as.conf" --once 2>"$T/as.log"
}
sql "create role cs_rd_$$ login password '$pw' in role casesync_daemon, pg_read_all_data"
daemon_as "cs_rd_$$"
rc=$?
[ $rc -ne 0 ] && grep -q 'is a member of pg_read_all_data or pg_write_all_data' "$T/as.log"
ok $? "the daemon refuses a role that is also a member of pg_read_all_data"
sql "create role cs_owner_$$; alter table casestore.worker owner to cs_owner_$$;
     create role cs_ow_$$ login password '$pw' in role casesync_daemon, cs_owner_$$"
daemon_as "cs_ow_$$"
rc=$?
[ $rc -ne 0 ] && grep -q 'owns (or is a member of the owner of) schema casesync or a mapped table' "$T/as.log"
ok $? "the daemon refuses a role that is a member of a mapped table's owner"
sql "alter table casestore.worker owner to current_user"
sql "create role cs_su_$$ superuser; create role cs_insu_$$ login password '$pw' in role casesync_daemon, cs_su_$$"
daemon_as "cs_insu_$$"
rc=$?
[ $rc -ne 0 ] && grep -q 'is a member of a superuser or BYPASSRLS role' "$T/as.log"
ok $? "the daemon refuses a role that is a member of a superuser role"
# The rows written by hand above are not chained; the daemon's would be.
sql "delete from casesync.audit; delete from casesync.audit_checkpoints"
sql "create role cs_plain_$$ login password '$pw' in role casesync_daemon"
daemon_as "cs_plain_$$" && ! grep -q 'db_role' "$T/as.log"
ok $? "a plain member of casesync_daemon runs a cycle"

# --- what capture can and cannot be installed on -----------------------------------
capture_on() { # capture_on TABLE ENTITY COLS: prints "ok" or the error message
	local msg
	msg=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -c \
		"select casesync.install_capture('$1', '$2', 'id', '$3', '$3')" 2>&1 >/dev/null |
		sed -n 's/^.*ERROR:  //p' | head -1)
	echo "${msg:-ok}"
}
sql "create table casestore.pt (id int primary key, v text) partition by range (id)"
is "$(capture_on casestore.pt pt '{v}')" \
	"change capture needs a plain table: casestore.pt is a view, a partitioned table, a partition or part of an inheritance tree" \
	"capture refuses a partitioned table (writes to its partitions would escape it)"
sql "create table casestore.nokey (id int, v text)"
is "$(capture_on casestore.nokey nokey '{v}')" \
	"key column id of casestore.nokey has no unique index of its own" \
	"capture refuses a key column without a unique index"
sql "create table casestore.js (id serial primary key, doc json)"
is "$(capture_on casestore.js js '{doc}')" "ok" "capture installs on a json column (no = operator)"
sql "insert into casestore.js (doc) values ('{\"a\": 1}')"
sql "delete from casesync.change_log where entity = 'js'"
sql "update casestore.js set doc = '{\"a\": 2}'"
is "$(sql "select array_to_string(casesync.mask_columns(masks[1], columns), ',') from casesync.change_log where entity = 'js'")" \
	"doc" "a json column's change is captured (compared as text) and the write succeeds"
sql "drop table casestore.js"
"$BUILD/casesync" -c "$CONF" migrate >"$T/m3.out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q 'change capture removed from a dropped table (entity js is no longer mapped there)' "$T/m3.out"
ok $? "migrate clears the registry of a dropped table instead of failing"

# --- capture follows the mappings --------------------------------------------------
mkdir -p "$T/maps/lcs-rest"
cp "$ROOT/mappings/model.json" "$T/maps/"
cp "$ROOT/mappings/lcs-rest/"*.json "$T/maps/lcs-rest/"
rm "$T/maps/lcs-rest/worker.json"
python3 - "$T/maps/lcs-rest/person.json" <<'PYEOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
del d["entities"]["person"]["fields"]["upn"]
json.dump(d, open(p, "w"), indent=2)
PYEOF
"$BUILD/casesync" -c "$CONF" --set mappings.dir="$T/maps" migrate >"$T/m2.out" 2>&1
ok $? "migrate with a mapping set that no longer maps workers nor person.upn"
grep -q 'change capture removed from casestore.worker (entity worker is no longer mapped there)' "$T/m2.out"
ok $? "migrate says which table lost its capture"
is "$(sql "select count(*) from pg_trigger where tgrelid = 'casestore.worker'::regclass
           and tgname like 'casesync_capture%'")|$(sql "select count(*) from casesync.capture
           where entity = 'worker'")" "0|0" \
	"the unmapped table's triggers and registry row are gone"
is "$(as daemon "select id from casestore.worker")" "42501" \
	"the daemon's grants on the unmapped table are withdrawn"
is "$(as daemon "select upn from casestore.person")" "42501" \
	"the daemon can no longer read a column dropped from the mapping"
sql "delete from casesync.change_log"
sql "update casestore.person set upn = 'A123456789012'"
is "$(sql "select count(*) from casesync.change_log where op = 'U'")" "0" \
	"a change to the dropped column is no longer captured"
sql "update casestore.person set family_name = 'Stillmapped'"
is "$(sql "select array_to_string(casesync.mask_columns(masks[1], columns), ',') from casesync.change_log where op = 'U'")" \
	"family_name" "... while a change to a mapped column still is"

finish
