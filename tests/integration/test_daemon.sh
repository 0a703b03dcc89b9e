#!/bin/bash
# casesyncd as a long-running process: a local commit wakes it through
# LISTEN/NOTIFY, a bad config on SIGHUP is refused while it keeps running,
# and SIGTERM stops it cleanly.
set -u
. "$(dirname "$0")/lib.sh"
setup_sync_env
echo "poll_interval_s = 3600" >>"$CONF"
"$BUILD/casesync" -c "$CONF" migrate --with-demo-store >/dev/null 2>&1
ok $? "migrate"

wait_for() { # wait_for PATTERN FILE SECONDS
	for _ in $(seq $(($3 * 20))); do grep -q "$1" "$2" && return 0; sleep 0.05; done
	return 1
}

daemon_config "$CONF" "$T/daemon.conf"
CONF="$T/daemon.conf"
"$BUILD/casesyncd" -c "$CONF" 2>"$T/d.log" &
pid=$!
wait_for 'event=cycle_done cycle=1 ' "$T/d.log" 10
ok $? "the daemon runs its first cycle at start"

t0=$(date +%s%N)
sql "insert into casestore.person (given_name, family_name) values ('Eve', 'Woken')"
wait_for 'event=cycle_done cycle=2 ' "$T/d.log" 5
ok $? "a local commit wakes the daemon (LISTEN/NOTIFY) long before the 1 h poll"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# commit to the end of the woken cycle (push included): $ms ms"
[ "$ms" -lt 2000 ]
ok $? "the woken cycle is done within 2 s of the commit (bench/run measures the wake-up itself)"
curl -sf "$SIM_URL/_sim/dump" | grep -q '"Woken"'
ok $? "the woken cycle pushed the new person to the council"

cp "$CONF" "$T/good.conf"
echo "no_such_key = 1" >>"$CONF"
kill -HUP "$pid"
wait_for 'event=reload_failed' "$T/d.log" 5
ok $? "a bad config on SIGHUP is refused and logged"
kill -0 "$pid" 2>/dev/null
ok $? "the daemon keeps running on the old config"
cp "$T/good.conf" "$CONF"
kill -HUP "$pid"
wait_for 'event=reload_done' "$T/d.log" 5
ok $? "a good config on SIGHUP is taken"
sed -i 's/^conninfo =.*/conninfo = dbname=elsewhere/' "$CONF"
kill -HUP "$pid"
wait_for 'event=reload_needs_restart key=database.conninfo' "$T/d.log" 5
ok $? "a reload names a key that needs a restart and keeps its running value"
is "$(sql "select string_agg(outcome || ':' || actor || ':' || source || ':' ||
           (changes->'mapping_set'->>'old'), ',' order by seq)
           from casesync.audit where action = 'config_reload'")" \
	"refused:test-instance:person:lcs-rest,applied:test-instance:person:lcs-rest,applied:test-instance:person:lcs-rest" \
	"every reload, refused or taken, is in the audit trail"
sql "update casestore.person set given_name = 'Evie' where family_name = 'Woken'"
wait_for 'event=cycle_done cycle=3 status=ok' "$T/d.log" 5
ok $? "after that reload the daemon still syncs with its running database"

kill -TERM "$pid"
wait "$pid"
is "$?" "0" "SIGTERM stops the daemon with exit status 0"
grep -q 'event=stopped reason=signal' "$T/d.log"
ok $? "the daemon logs why it stopped"
finish
