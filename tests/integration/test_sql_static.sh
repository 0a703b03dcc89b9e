#!/bin/bash
# Only parameterised SQL: tools/check-sql finds no SQL built from data in
# the sources, and does find each kind of violation in a fixture.
set -u
. "$(dirname "$0")/lib.sh"

out=$("$ROOT/tools/check-sql" "$ROOT"/daemon/*.c "$ROOT"/include/*.h 2>&1)
rc=$?
is "$rc|$out" "0|" "the daemon's sources build no SQL from data"

fixture="$ROOT/tests/fixtures/sql-check/bad.c"
"$ROOT/tools/check-sql" "$fixture" >"$T/bad.out" 2>&1
is "$?" "1" "the checker fails on the fixture"
want=$(grep -n 'BAD \*/$' "$fixture" | cut -d: -f1 | tr '\n' ' ')
got=$(sed -n 's/^[^:]*:\([0-9]*\): .*/\1/p' "$T/bad.out" | tr '\n' ' ')
is "$got" "$want" "it reports exactly the fixture's bad lines (and none of the good ones)"
grep -q 'bad.c:9: sql-format: SQL text built with snprintf' "$T/bad.out"
ok $? "a formatted SQL string is named with its rule"

finish
