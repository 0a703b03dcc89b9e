#!/bin/bash
# Upgrading a database whose tables were captured by schema version 1 (a
# row-level trigger): the upgrade re-captures them in the same transaction,
# so no change goes uncaptured, even before the mappings are given.
set -u
. "$(dirname "$0")/lib.sh"
setup_sync_env

# A version-1 database, as casesync 0.1's migrate left it.
sql "create schema casesync;
     create table casesync.schema_version (component text not null,
       version integer not null, name text not null,
       applied_at timestamptz not null default now(),
       primary key (component, version))"
psql -X -q -v ON_ERROR_STOP=1 -f "$ROOT/sql/casesync/0001_state.sql" >/dev/null &&
	psql -X -q -v ON_ERROR_STOP=1 -f "$ROOT/sql/casestore/0001_store.sql" >/dev/null &&
	psql -X -q -v ON_ERROR_STOP=1 -f "$ROOT/sql/casestore/0002_canonical.sql" >/dev/null
ok $? "a version-1 schema is in place"
sql "insert into casesync.schema_version (component, version, name) values
     ('casesync', 1, '0001_state'), ('casestore', 1, '0001_store'),
     ('casestore', 2, '0002_canonical')"
sql "select casesync.install_capture('casestore.person', 'person', 'id')"
# Audit entries written before the chain: numbered by a sequence, with a
# gap where an insert was rolled back.
sql "insert into casesync.audit (actor, action, entity, local_key, changes, source, outcome)
     values ('old', 'create_local', 'person', '1', '{\"family_name\": {\"old\": null, \"new\": \"Before\"}}', 'council', 'applied')"
sql "select nextval('casesync.audit_seq_seq')" >/dev/null
sql "insert into casesync.audit (actor, action, entity, local_key, changes, source, outcome)
     values ('old', 'update_local', 'person', '1', '{\"family_name\": {\"old\": \"Before\", \"new\": \"Later\"}}', 'council', 'applied')"
sql "insert into casestore.person (family_name) values ('Before'), ('Other')"
sql "update casestore.person set given_name = 'Changed' where family_name = 'Other'"
is "$(sql "select string_agg(op || ':' || local_key, ' ' order by id) from casesync.change_log")" \
	"I:1 I:2 U:2" "version 1 captured one row per written row"

"$BUILD/casesync" -c "$CONF" --set mappings.use= --set audit.key_file= migrate >"$T/m0.out" 2>&1
is "$?|$(grep -c 'audit: 2 entries written before the chain wait for audit.key_file' "$T/m0.out")" "1|1" \
	"without the audit key, migrate applies the schema but says the old entries wait for it"
"$BUILD/casesync" -c "$CONF" --set mappings.use= migrate >"$T/m.out" 2>&1
ok $? "migrate upgrades to the current version without a mapping set"
grep -q 'audit: chained the 2 entries written before version 5' "$T/m.out"
ok $? "with the key it chains the audit entries written before"
is "$(sql "select string_agg(seq || ':' || action, ' ' order by seq) from casesync.audit")|$(sql "select entries from casesync.audit_head")" \
	"1:create_local 2:update_local|2" "they are numbered 1, 2 without the gap, in their order"
"$BUILD/casesync" -c "$CONF" audit verify >"$T/v.out" 2>&1
is "$?|$(head -1 "$T/v.out" | cut -d, -f1)" "0|audit trail intact: 2 entries" "and the trail verifies"
grep -q 'applied casesync migration 0002_capture_roles' "$T/m0.out" &&
	grep -q 'mappings.use is empty: change capture left as it is' "$T/m.out"
ok $? "it says what it applied and that capture was left as it is"
is "$(sql "select string_agg(tgname, ',' order by tgname) from pg_trigger
           where tgrelid = 'casestore.person'::regclass and tgname like 'casesync%'")" \
	"casesync_capture_delete,casesync_capture_insert,casesync_capture_truncate,casesync_capture_update" \
	"the version-1 trigger is replaced by the statement-level ones in the same migration"
is "$(sql "select string_agg(op || ':' || array_to_string(keys, ',') || ':' || nkeys ||
           ':' || coalesce(array_to_string(columns, ','), '-'), ' ' order by id) from casesync.change_log")" \
	"I:1:1:- I:2:1:- U:2:1:-" "version-1 rows are kept, their changed columns left unknown"
sql "update casestore.person set family_name = 'After' where family_name = 'Before'"
is "$(sql "select array_to_string(casesync.mask_columns(masks[1], columns), ',')
           from casesync.change_log where masks is not null")" "family_name" \
	"a change right after the upgrade is captured (every column compared until mappings narrow it)"
sql "select * from casesync.collect_changes(100)" >/dev/null
is "$(sql "select string_agg(local_key || ':' || op || ':' || coalesce(array_to_string(columns, ','), '-'),
           ' ' order by local_key) from casesync.change_pending")" "1:I:- 2:I:-" \
	"old and new rows fold together (inserted then updated is an insert)"

"$BUILD/casesync" -c "$CONF" migrate >"$T/m2.out" 2>&1
ok $? "migrate with the mapping set"
is "$(sql "select cardinality(columns) < 20 and 'family_name' = any(columns) and
           not ('created_at' = any(columns)) from casesync.capture where entity = 'person'")" \
	"t" "the mapping set narrows person's capture to its mapped columns"
grep -q 'change capture on casestore.referral (entity referral)$' "$T/m2.out"
ok $? "and installs capture on the other mapped tables"
"$BUILD/casesync" -c "$CONF" migrate >"$T/m3.out" 2>&1 &&
	grep -q 'change capture on casestore.person (entity person): up to date' "$T/m3.out"
ok $? "a third migrate leaves capture alone"

finish
