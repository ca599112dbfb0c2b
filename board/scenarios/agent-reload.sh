# requires: kmod
# requires: agent
# The module unloaded and loaded again under the running agent: it says so, finds the
# family again within a second of the reload, pushes its settings again, samples flow and
# events are exported.
# Started while the module is absent: it says so once and connects when it appears. The
# classic unit transport carries samples too. kill -9 under the init script's respawn
# entry: a new agent runs.
/usr/share/nltelem/load-module
printf 'period_ms = 200\nheartbeat_ms = 200\nexport = line-protocol:stdout\n' >/tmp/agent.conf
nltelem run -c /tmp/agent.conf >/tmp/agent.out 2>&1 &
agent=$!
sleep 1
rmmod nltelem && echo "rmmod under the agent: ok"
sleep 1
grep '^nltelem: module gone' /tmp/agent.out
insmod /lib/modules/nltelem.ko
sleep 1
echo "ready lines after the reload: $(grep -c '^nltelem: ready' /tmp/agent.out)"
nltelem get config | sed 's/ sources.*//'
nltelem set watchdog_ms=0 >/dev/null
sleep 1
grep -q '^nltelem_event,host=nltelem,kind=config-changed ' /tmp/agent.out &&
	echo "config-changed event exported"
nltelem status | awk '{ for (i = 2; i < NF; i++) if ($i == "agent_received")
	print ($(i + 1) > 0 ? "samples flow after the reload" : "no sample after the reload") }'
kill $agent
wait $agent
rmmod nltelem
nltelem run -c /tmp/agent.conf >/tmp/agent2.out 2>&1 &
agent=$!
sleep 2
cat /tmp/agent2.out
insmod /lib/modules/nltelem.ko
sleep 1
grep '^nltelem: ready' /tmp/agent2.out | sed 's/ id [0-9]*//'
kill $agent
wait $agent
printf 'transport = unit:25\nperiod_ms = 200\n' >/tmp/classic.conf
nltelem run -c /tmp/classic.conf >/tmp/classic.out 2>&1 &
agent=$!
sleep 2
kill -USR1 $agent
sleep 0.5
kill $agent
wait $agent
grep '^nltelem: ready' /tmp/classic.out
grep '^counters' /tmp/classic.out | head -1 | awk '{ print ($3 > 0 ? "classic unit: samples received" : "classic unit: nothing received") }'
# init's respawn entry, three rounds at most: the agent killed with SIGKILL is started again.
(for round in 1 2 3; do /etc/init.d/nltelem respawn >/dev/null 2>&1; done) &
sleep 2
first=$(cat /run/nltelem.pid)
kill -9 "$first"
sleep 2
second=$(cat /run/nltelem.pid)
[ -n "$second" ] && [ "$second" != "$first" ] && kill -0 "$second" && echo "respawned after kill -9"
/etc/init.d/nltelem stop
wait
