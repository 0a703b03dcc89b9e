#!/bin/bash
# Scale-out (issue 6): two casesyncd processes with different instance names,
# started at the same moment against one database and one council, share a
# large backlog of provider changes without processing anything twice.
#
# Size: SCALEOUT_CHANGES, else RECOVERY_CHANGES, else 1000 provider changes
# (60% edits of distinct records, 40% creates); `make chaos` sets 10000.
# SCALEOUT_SEED (default 8). SCALEOUT_KEEP=DIR keeps the logs there.
set -u
. "$(dirname "$0")/lib.sh"

CHANGES=${SCALEOUT_CHANGES:-${RECOVERY_CHANGES:-1000}}
SEED=${SCALEOUT_SEED:-8}
UPDATES=$((CHANGES * 6 / 10))
CREATES=$((CHANGES - UPDATES))
if [ "$CHANGES" -ge 2000 ]; then TIMEOUT=840; else TIMEOUT=300; fi
DRIVER="python3 $ROOT/tests/chaos/driver.py --state $T/state.json"
mkdir -p "$T/logs"
logtail() { tail -n "${2:-6}" "$1" 2>/dev/null | sed 's/^/#   /'; }

use_fresh_db
# One council person more than there are edits: the driver keeps one aside.
python3 "$ROOT/tests/gen/gen_persons.py" --seed "$SEED" --council $((UPDATES + 1)) \
	--provider 0 --council-out "$T/fixture.json" --manifest "$T/manifest.json" 2>/dev/null
ok $? "the generator writes $((UPDATES + 1)) council persons (seed $SEED)"
start_sim "$T/fixture.json"
CONF="$T/casesync.conf"
write_config "$CONF"
CS="$BUILD/casesync -c $CONF"
$CS migrate --with-demo-store >"$T/migrate.log" 2>&1
ok $? "migrate --with-demo-store"
daemon_config "$CONF" "$T/daemon.conf"
DOPTS=(-c "$T/daemon.conf" --set daemon.poll_interval_s=1)

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

# --- the council's persons at the provider, then the backlog -------------------------
for i in 1 2 3; do
	$BUILD/casesyncd "${DOPTS[@]}" --set daemon.instance=setup --once 2>>"$T/logs/setup.log" || break
	[ "$(pending)" = 0 ] && [ "$(feed_left)" = 0 ] && break
done
$DRIVER setup --manifest "$T/manifest.json" --url "$SIM_URL" --seed "$SEED" 2>"$T/setup.err"
rc=$?
ok $rc "a first sync brings the $((UPDATES + 1)) council persons to the provider"
if [ $rc -ne 0 ]; then
	logtail "$T/setup.err" 2
	logtail "$T/logs/setup.log" 4
	finish
	exit 1
fi
before=$(curl -sf "$SIM_URL/_sim/stats")
stat0() { python3 -c "import json,sys; print(json.loads(sys.argv[1]).get('$1', 0))" "$before"; }
stat() { sim_json /_sim/stats "d.get('$1', 0)"; }
audit0=$(sql "select coalesce(max(seq), 0) from casesync.audit")
$DRIVER provider-backlog --updates "$UPDATES" --creates "$CREATES" 2>"$T/backlog.err"
ok $? "a backlog of $CHANGES provider changes: $UPDATES edits of distinct persons, $CREATES new persons"
logtail "$T/backlog.err" 2

# --- two daemons at once ------------------------------------------------------------
t0=$SECONDS
$BUILD/casesyncd "${DOPTS[@]}" --set daemon.instance=scale-a 2>"$T/logs/a.log" &
pa=$!
$BUILD/casesyncd "${DOPTS[@]}" --set daemon.instance=scale-b 2>"$T/logs/b.log" &
pb=$!
# Until nothing is pending, or TIMEOUT, or no progress for 60 seconds.
drained=1 last=-1 moved=$SECONDS
while [ $((SECONDS - t0)) -lt "$TIMEOUT" ] && [ $((SECONDS - moved)) -lt 60 ]; do
	sleep 1
	p=$(pending)
	if [ "$p" = 0 ] && [ "$(feed_left)" = 0 ]; then drained=0; break; fi
	[ "$p" != "$last" ] && last=$p moved=$SECONDS
	kill -0 $pa 2>/dev/null || kill -0 $pb 2>/dev/null || break
done
took=$((SECONDS - t0))
ok $drained "two daemons drain the backlog and the feed"
[ $drained -ne 0 ] && echo "#   after ${took}s: $(pending) changes pending ($((SECONDS - moved))s without progress), $(feed_left) feed items"
kill -0 $pa 2>/dev/null; a_alive=$?
kill -0 $pb 2>/dev/null; b_alive=$?
kill -TERM $pa $pb 2>/dev/null
wait $pa; sa=$?
wait $pb; sb=$?
is "$a_alive$b_alive|$sa|$sb" "00|0|0" "both daemons ran to the end and stop cleanly on SIGTERM"
for l in a b; do
	grep -q 'level=error' "$T/logs/$l.log" && {
		echo "#   scale-$l logged errors:"
		grep 'level=error' "$T/logs/$l.log" | sed 's/ problem=.*//' | sort | uniq -c | sort -rn | head -3 | sed 's/^/#   /'
	}
done

# --- exactly once -----------------------------------------------------------------------
is "$(($(stat created) - $(stat0 created)))" "$CREATES" \
	"the council counted $CREATES creates, one per new person"
is "$(($(stat updated) - $(stat0 updated)))" "$UPDATES" \
	"the council counted $UPDATES updates, one per edited person"
is "$(($(stat replays) - $(stat0 replays)))" 0 \
	"no write was sent twice (no Idempotency-Key replay)"
is "$(sim_json /_sim/stats "d['by_status'].get('412', 0)")" 0 \
	"no write was refused 412 (no two daemons wrote one record)"
while IFS= read -r line; do
	case $line in
	"ok|"*) ok 0 "${line#ok|}" ;;
	"not ok|"*) ok 1 "${line#not ok|}" ;;
	*) echo "$line" ;;
	esac
done < <($DRIVER verify 2>&1)
is "$(sql "select count(*) || '/' || count(distinct local_key) from casesync.audit
           where seq > $audit0 and action = 'update_remote'")" "$UPDATES/$UPDATES" \
	"audit: one update_remote row per edited person"
is "$(sql "select count(*) from casesync.outbox")|$(sql "select count(*) from casesync.change_pending")" "0|0" \
	"nothing left in casesync.outbox or change_pending"

# --- shared ------------------------------------------------------------------------------
work_a=$(sql "select count(*) from casesync.audit where seq > $audit0 and actor = 'scale-a'")
work_b=$(sql "select count(*) from casesync.audit where seq > $audit0 and actor = 'scale-b'")
[ "$work_a" -gt 0 ] && [ "$work_b" -gt 0 ]
ok $? "both instances did part of the work (audit rows: scale-a $work_a, scale-b $work_b)"
echo "# cycles: $(sql "select string_agg(instance || ' ' || n || ' cycles, ' || pushed || ' pushed', '; ')
                      from (select instance, count(*) n, sum(pushed) pushed from casesync.cycles
                            where instance like 'scale-%' group by instance order by instance) x")"

$CS reconcile >"$T/reconcile.out" 2>&1
rc=$?
ok $rc "casesync reconcile reports both sides in sync (exit $rc)"
[ $rc -ne 0 ] && logtail "$T/reconcile.out" 4
$CS audit verify >"$T/audit.out" 2>&1
rc=$?
ok $rc "two daemons writing at once leave one unbroken chain (casesync audit verify, exit $rc)"
[ $rc -ne 0 ] && logtail "$T/audit.out" 4
echo "# figures: $CHANGES provider changes ($UPDATES edits, $CREATES creates), 2 daemons, ${took}s to drain"
if [ -n "${SCALEOUT_KEEP:-}" ]; then
	mkdir -p "$SCALEOUT_KEEP" && cp -r "$T/logs" "$T/state.json" "$SCALEOUT_KEEP/"
	pg_dump --data-only -n casesync -n casestore >"$SCALEOUT_KEEP/db.sql" 2>/dev/null
	curl -sf "$SIM_URL/_sim/dump" >"$SCALEOUT_KEEP/sim-dump.json"
fi
finish
