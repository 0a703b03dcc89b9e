#!/bin/bash
# Crash recovery (issue 6): casesyncd is killed with SIGKILL at every fail
# point (build/casesyncd-fp, failpoint.h) and at random moments while both
# sides change records, is restarted each time, and at the end every change
# must have been applied exactly once on each side.
#
# Size: RECOVERY_CHANGES changes in all (default 600, `make chaos`: 10000),
# both directions; RECOVERY_SEED (default 6) seeds the data and the changes;
# RECOVERY_RANDOM_KILLS (default 6, or 25 from 2000 changes up);
# RECOVERY_KEEP=DIR keeps the daemon logs and the driver's state there.
#
# The test's two users (tests/chaos/driver.py) edit different fields, so no
# change conflicts with another: the provider writes given_name, the council
# family_name (GET, then PUT with If-Match); both create persons, and each
# deletes a few records the other side never touches. One record is kept for
# a delete-versus-edit conflict, resolved 'take local' while the daemon is
# armed to die right after writing the resolution to the council.
set -u
. "$(dirname "$0")/lib.sh"

CHANGES=${RECOVERY_CHANGES:-600}
SEED=${RECOVERY_SEED:-6}
if [ "$CHANGES" -ge 2000 ]; then NRANDOM=${RECOVERY_RANDOM_KILLS:-25}
else NRANDOM=${RECOVERY_RANDOM_KILLS:-6}; fi
if [ "$CHANGES" -ge 2000 ]; then FP_TIMEOUT=60; else FP_TIMEOUT=20; fi
NCOUNCIL=$((CHANGES / 4 < 60 ? 60 : CHANGES / 4))
NPROVIDER=$((CHANGES / 8 < 30 ? 30 : CHANGES / 8))
RANDOM=$SEED
DRIVER="python3 $ROOT/tests/chaos/driver.py --state $T/state.json"
FPBIN=$BUILD/casesyncd-fp
mkdir -p "$T/logs"

alive() { kill -0 "$1" 2>/dev/null; }
logtail() { # logtail FILE: the log's last lines, as TAP comments
	tail -n "${2:-6}" "$1" 2>/dev/null | sed 's/^/#   /'
}

use_fresh_db
python3 "$ROOT/tests/gen/gen_persons.py" --seed "$SEED" --council "$NCOUNCIL" \
	--provider "$NPROVIDER" --council-out "$T/fixture.json" \
	--provider-sql "$T/provider.sql" --manifest "$T/manifest.json" 2>/dev/null
ok $? "the generator writes $NCOUNCIL council and $NPROVIDER provider persons (seed $SEED)"
start_sim "$T/fixture.json"
CONF="$T/casesync.conf"
write_config "$CONF"
CS="$BUILD/casesync -c $CONF"
$CS migrate --with-demo-store >"$T/migrate.log" 2>&1
ok $? "migrate --with-demo-store"
psql -X -q -v ON_ERROR_STOP=1 -f "$T/provider.sql" >/dev/null
ok $? "the provider-only persons are loaded into casestore.person"
daemon_config "$CONF" "$T/daemon.conf"
DOPTS=(-c "$T/daemon.conf" --set daemon.poll_interval_s=1)
runs=0 once_runs=0

# --- a first clean sync ----------------------------------------------------------
for i in 1 2 3; do
	runs=$((runs + 1)) once_runs=$((once_runs + 1))
	$BUILD/casesyncd "${DOPTS[@]}" --once 2>>"$T/logs/first.log" || break
done
is "$(sql "select count(*) from casestore.person where la_child_id is not null")|$(sim_json /_sim/stats "d['records']")" \
	"$((NCOUNCIL + NPROVIDER))|$((NCOUNCIL + NPROVIDER))" \
	"a first clean sync: all $((NCOUNCIL + NPROVIDER)) persons on both sides"
$DRIVER setup --manifest "$T/manifest.json" --url "$SIM_URL" --seed "$SEED" 2>"$T/setup.err"
rc=$?
ok $rc "the driver finds every generated person on both sides"
if [ $rc -ne 0 ]; then
	logtail "$T/setup.err" 2
	echo "#   the first sync failed; its log ends:"
	logtail "$T/logs/first.log" 4
	finish
	exit 1
fi

# --- kills ---------------------------------------------------------------------
mapfile -t FPS < <($FPBIN --list-failpoints)
[ "${#FPS[@]}" -gt 0 ]
ok $? "casesyncd-fp lists its fail points (${#FPS[@]})"
BURST=$((CHANGES / (${#FPS[@]} + NRANDOM)))
[ "$BURST" -lt 5 ] && BURST=5
# Failures are counted in a file: a burst may run in a subshell.
burst() { # burst [N]
	$DRIVER burst --n "${1:-$BURST}" >>"$T/logs/driver.log" 2>&1 || echo x >>"$T/burst.fail"
}
fp_kills=() fp_summary=""

# fp_step POINT HIT [conflict]: runs casesyncd-fp armed at POINT:HIT, makes
# changes (or, for the conflict step, resolves the prepared conflict) until
# it dies, then judges how it died.
fp_step() {
	local fp=$1 n=$2 mode=${3:-} log pid st bursts=0 t0=$SECONDS zlid= resolved=0
	runs=$((runs + 1))
	log="$T/logs/run$runs-$fp.log"
	if [ "$mode" = conflict ]; then
		zlid=$($DRIVER conflict-prepare 2>>"$T/logs/driver.log")
		[ -n "$zlid" ] || echo x >>"$T/burst.fail"
	fi
	CASESYNC_FAILPOINT="$fp:$n" $FPBIN "${DOPTS[@]}" 2>"$log" &
	pid=$!
	while alive $pid && [ $((SECONDS - t0)) -lt "$FP_TIMEOUT" ]; do
		if [ "$mode" = conflict ]; then
			if [ "$resolved" = 0 ] && [ -n "$zlid" ] &&
			   [ "$(sql "select count(*) from casesync.conflicts where entity = 'person'
			             and local_key = '$zlid' and status = 'open'")" = 1 ]; then
				sql "update casesync.conflicts set resolution = '{\"take\": \"local\"}',
				     status = 'resolved', resolved_by = 'test-datalead',
				     resolved_at = now(), reason = 'crash-recovery test'
				     where entity = 'person' and local_key = '$zlid' and status = 'open'"
				resolved=1
			fi
		elif [ $bursts -lt 3 ]; then
			burst
			bursts=$((bursts + 1))
		fi
		for _ in 1 2 3 4; do alive $pid && sleep 0.25; done
	done
	if alive $pid; then
		kill -TERM $pid
		{ wait $pid; } 2>/dev/null
		ok 1 "casesyncd-fp dies at fail point $fp (hit $n)"
		echo "#   fail point $fp never reached in ${FP_TIMEOUT}s ($bursts bursts of changes)"
		[ "$mode" = conflict ] && [ "$resolved" = 0 ] &&
			echo "#   no open conflict appeared for the delete-versus-edit record (local key '${zlid:-?}')"
		[ "$mode" = conflict ] && [ "$resolved" = 1 ] &&
			echo "#   the conflict (local key $zlid) was opened and resolved; now: $(sql "select string_agg(status, ',')
			      from casesync.conflicts where local_key = '$zlid'")"
		fp_summary+=" $fp=0"
		return
	fi
	{ wait $pid; } 2>/dev/null
	st=$?
	if [ $st -eq 137 ] && grep -q "^failpoint $fp\$" "$log"; then
		ok 0 "casesyncd-fp dies at fail point $fp (hit $n)"
		fp_summary+=" $fp=1"
	else
		ok 1 "casesyncd-fp dies at fail point $fp (hit $n)"
		echo "#   exit status $st, not SIGKILL at the fail point; the log ends:"
		logtail "$log"
		fp_summary+=" $fp=0"
	fi
}

# The conflict step first, while nothing else is pending: the daemon gets to
# the resolution in its first cycles.
for fp in "${FPS[@]}"; do
	[ "$fp" = resolve.after_send ] && fp_step "$fp" 1 conflict
done
for fp in "${FPS[@]}"; do
	[ "$fp" = resolve.after_send ] || fp_step "$fp" $((1 + RANDOM % 3))
done

# Random moments, with the production build: sometimes during a burst of
# changes, sometimes after it. Then more of them while changes are short of
# the target.
random_kills=0 early_exits=0 early_log=
random_kill() {
	local log pid bp= ms
	runs=$((runs + 1))
	log="$T/logs/run$runs-random.log"
	$BUILD/casesyncd "${DOPTS[@]}" 2>"$log" &
	pid=$!
	if [ $((RANDOM % 2)) = 0 ]; then burst & bp=$!; else burst; fi
	ms=$((RANDOM % 1500))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	if alive $pid; then
		kill -KILL $pid
		{ wait $pid; } 2>/dev/null
		random_kills=$((random_kills + 1))
	else
		{ wait $pid; } 2>/dev/null
		early_exits=$((early_exits + 1)) early_log=$log
	fi
	[ -n "$bp" ] && wait $bp
}
for _ in $(seq "$NRANDOM"); do random_kill; done
changes() { python3 -c "import json; print(json.load(open('$T/state.json'))['n'])"; }
extra=0
while [ "$(changes)" -lt "$CHANGES" ] && [ $extra -lt 200 ]; do
	random_kill
	extra=$((extra + 1))
done
is "$early_exits" 0 "casesyncd was still running at each of the $((NRANDOM + extra)) random kills"
[ "$early_exits" -gt 0 ] && logtail "$early_log"
burst_fail=$(cat "$T/burst.fail" 2>/dev/null | wc -l)
is "$burst_fail" 0 "the test's changes were all made (driver: no failure)"
[ "$burst_fail" -gt 0 ] && logtail "$T/logs/driver.log" 4

# --- clean cycles until nothing is pending -------------------------------------------
pending() {
	sql "select (select count(*) from casesync.change_log) +
	            (select count(*) from casesync.change_pending) +
	            (select count(*) from casesync.outbox where status <> 'failed')"
}
feed_left() {
	local cur
	cur=$(sql "select value from casesync.cursors where name = 'remote:person'")
	sim_json "/api/v1/persons/changes?since=${cur:-0}&limit=1000" "len(d['items'])"
}
once_fail=0 drained=1
for i in $(seq 30); do
	runs=$((runs + 1)) once_runs=$((once_runs + 1))
	$BUILD/casesyncd "${DOPTS[@]}" --once 2>>"$T/logs/drain.log" || once_fail=$((once_fail + 1))
	if [ "$(pending)" = 0 ] && [ "$(feed_left)" = 0 ]; then drained=0; break; fi
done
ok $drained "clean --once cycles drain every pending change and the feed ($i cycles)"
[ $drained -ne 0 ] && echo "#   still pending: $(pending) local, $(feed_left) feed items"
is "$once_fail" 0 "every clean --once cycle after the crashes exits 0"
[ "$once_fail" -gt 0 ] && grep 'level=error' "$T/logs/drain.log" | sort | uniq -c | sort -rn | head -5 | sed 's/^/#   /'

# --- the verdict ---------------------------------------------------------------------
while IFS= read -r line; do
	case $line in
	"ok|"*) ok 0 "${line#ok|}" ;;
	"not ok|"*) ok 1 "${line#not ok|}" ;;
	*) echo "$line" ;;
	esac
done < <($DRIVER verify 2>&1)

is "$(sql "select count(*) from casesync.outbox")" 0 "nothing stuck in casesync.outbox"
[ "$(sql "select count(*) from casesync.outbox")" != 0 ] &&
	sql "select 'op=' || op || ' status=' || status || ' attempts=' || attempts from casesync.outbox limit 5" | sed 's/^/#   /'
is "$(sql "select (select count(*) from casesync.change_pending) + (select count(*) from casesync.change_log)")" 0 \
	"nothing stuck in casesync.change_pending or change_log"
is "$(sql "select count(*) from casesync.quarantine")" 0 "no generated record was quarantined"
zlid=$(python3 -c "import json; z=json.load(open('$T/state.json'))['z']; print(json.load(open('$T/state.json'))['recs'][z['tag']]['lid'] if z else '')")
is "$(sql "select count(*) from casesync.conflicts where local_key is distinct from '$zlid'")" 0 \
	"no conflict was opened besides the prepared one (the two sides edit different fields)"
if [ -n "$zlid" ]; then
	is "$(sql "select string_agg(status, ',') from casesync.conflicts where local_key = '$zlid'")" "applied" \
		"the prepared conflict was opened once, and its resolution applied"
fi
$CS reconcile >"$T/reconcile.out" 2>&1
rc=$?
ok $rc "casesync reconcile reports both sides in sync (exit $rc)"
[ $rc -ne 0 ] && logtail "$T/reconcile.out" 4
$CS audit verify >"$T/audit.out" 2>&1
rc=$?
ok $rc "the audit trail verifies after every kill (casesync audit verify, exit $rc)"
[ $rc -ne 0 ] && logtail "$T/audit.out" 4

# --- figures -------------------------------------------------------------------------
fp_n=$(grep -o '=1' <<<"$fp_summary" | wc -l)
echo "# figures: seed $SEED; $runs daemon runs ($once_runs --once); kills: $fp_n at fail points" \
	"of ${#FPS[@]} and $random_kills at random moments"
echo "# fail points (1 = killed there):$fp_summary"
echo "# $($DRIVER figures)"
echo "# daemon log: $(cat "$T"/logs/*.log | grep -c 'level=error') error and" \
	"$(cat "$T"/logs/*.log | grep -c 'level=warn') warning lines;" \
	"most frequent: $(cat "$T"/logs/*.log | grep -o 'level=\(error\|warn\) event=[a-z_]*' |
		sort | uniq -c | sort -rn | head -4 | awk '{printf "%s %s(%s); ", $3, $2, $1}')"
if [ -n "${RECOVERY_KEEP:-}" ]; then
	mkdir -p "$RECOVERY_KEEP" && cp -r "$T/logs" "$T/state.json" "$T/fixture.json" "$RECOVERY_KEEP/"
	pg_dump --data-only -n casesync -n casestore >"$RECOVERY_KEEP/db.sql" 2>/dev/null
	curl -sf "$SIM_URL/_sim/dump" >"$RECOVERY_KEEP/sim-dump.json"
fi
finish
