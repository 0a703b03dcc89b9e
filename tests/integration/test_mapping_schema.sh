#!/bin/bash
# The JSON Schemas of mapping files (mappings/mapping.schema.json) and of the
# canonical model (mappings/model.schema.json) against the shipped files and
# against the loader: every shipped file validates, and each broken variant
# is refused both by the schema and by `casesync check-config`.
# Needs Debian's python3-jsonschema; without it every test is skipped.
set -u
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
PY=/usr/bin/python3
CASESYNC="$ROOT/$BUILD/casesync"
case $BUILD in /*) CASESYNC="$BUILD/casesync" ;; esac
PLANNED=21

if ! "$PY" -c 'import jsonschema' 2>/dev/null; then
	for i in $(seq "$PLANNED"); do
		echo "ok $i # SKIP python3-jsonschema not installed"
	done
	rm -rf "$T"
	echo "1..$PLANNED"
	exit 0
fi

# check_schema SCHEMA: the schema is itself a valid draft 2020-12 schema.
check_schema() {
	"$PY" - "$1" <<'PY'
import json, sys
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
try:
    Draft202012Validator.check_schema(json.load(open(sys.argv[1])))
except SchemaError as e:
    print("# " + str(e.message))
    sys.exit(1)
PY
}

# validate SCHEMA FILE: exit 0 when FILE is valid; the errors as comments.
validate() {
	"$PY" - "$1" "$2" <<'PY'
import json, sys
from jsonschema import Draft202012Validator
v = Draft202012Validator(json.load(open(sys.argv[1])))
errs = list(v.iter_errors(json.load(open(sys.argv[2]))))
for e in errs:
    print("#   /" + "/".join(str(p) for p in e.absolute_path) + ": " + e.message[:200])
sys.exit(1 if errs else 0)
PY
}

# mutate FILE PYTHON: rewrites the JSON file after running PYTHON on it as
# `d`; `E` is d["entities"].
mutate() {
	"$PY" - "$1" "$2" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
E = d.get("entities", {})
exec(sys.argv[2])
with open(p, "w") as f:
    json.dump(d, f, indent=2)
PY
}

# check_config DIR: runs check-config with mappings.dir = DIR; its status,
# stderr in $T/check.err.
check_config() {
	printf '[database]\nconninfo =\n[mappings]\ndir = %s\nuse = lcs-rest\n%s\n' \
		"$1" "$(audit_section)" >"$T/check.conf"
	"$CASESYNC" -c "$T/check.conf" check-config >/dev/null 2>"$T/check.err"
}

check_schema mappings/mapping.schema.json
ok $? "mapping.schema.json is a valid draft 2020-12 schema"
check_schema mappings/model.schema.json
ok $? "model.schema.json is a valid draft 2020-12 schema"

validate mappings/model.schema.json mappings/model.json
ok $? "mappings/model.json validates against model.schema.json"

nfiles=0 bad=
for f in mappings/*/*.json; do
	nfiles=$((nfiles + 1))
	validate mappings/mapping.schema.json "$f" || bad="$bad $f"
done
[ "$nfiles" -gt 0 ] && [ -z "$bad" ]
ok $? "all $nfiles mapping files validate against mapping.schema.json"
[ -z "$bad" ] || echo "#   invalid:$bad"

bad=
for f in mappings/*/*.json; do
	ref=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("$schema", ""))' "$f")
	[ -n "$ref" ] && [ -f "$(dirname "$f")/$ref" ] || bad="$bad $f"
done
[ -z "$bad" ]
ok $? "every mapping file's \$schema names the schema file"
[ -z "$bad" ] || echo "#   unresolved:$bad"

cp -R mappings "$T/pristine"
check_config "$T/pristine"
ok $? "check-config accepts an unaltered copy of mappings/"
[ -s "$T/check.err" ] && sed 's/^/#   /' "$T/check.err"

# broken FILE DESCRIPTION POINTER PYTHON: one altered file in a fresh copy
# of mappings/; the schema must refuse it, and check-config must exit 1
# naming POINTER (the JSON Pointer of the offending place).
broken() {
	local file=$1 desc=$2 ptr=$3 rc
	rm -rf "$T/m"
	cp -R mappings "$T/m"
	if ! mutate "$T/m/$file" "$4"; then
		echo "#   the variant of $file could not be made"
		ok 1 "$desc: the schema refuses it"
		ok 1 "$desc: check-config exits 1"
		ok 1 "$desc: check-config names $ptr"
		return
	fi
	if validate mappings/mapping.schema.json "$T/m/$file" >"$T/val.out"; then
		ok 1 "$desc: the schema refuses it"
	else
		ok 0 "$desc: the schema refuses it"
	fi
	check_config "$T/m"
	rc=$?
	is "$rc" 1 "$desc: check-config exits 1"
	grep -qF "$ptr:" "$T/check.err"
	ok $? "$desc: check-config names $ptr"
	[ "$rc" -eq 1 ] && grep -qF "$ptr:" "$T/check.err" || sed 's/^/#   /' "$T/check.err"
}

broken lcs-rest/person.json "an unknown key in a field" \
	/entities/person/fields/upn/colour \
	'E["person"]["fields"]["upn"]["colour"] = "red"'
broken lcs-rest/person.json 'direction "sideways"' \
	/entities/person/fields/upn/direction \
	'E["person"]["fields"]["upn"]["direction"] = "sideways"'
broken lcs-rest/person.json "an empty match" \
	/entities/person/match \
	'E["person"]["match"] = []'
broken lcs-rest/person.json "a child entity without local.parent_key" \
	/entities/referral/local \
	'del E["referral"]["local"]["parent_key"]'
broken lcs-rest/person.json "a JSON entity's remote without collection" \
	/entities/person/remote \
	'del E["person"]["remote"]["collection"]'

rm -rf "$T/m"
if [ "$tap_n" -ne "$PLANNED" ]; then
	echo "# planned $PLANNED tests but ran $tap_n"
	ok 1 "the plan"
fi
finish
