# requires: kmod
# requires: agent
# The daemon against the module: it pushes its settings and heartbeats its counters (the
# module's stats show them); a flood into a tiny receive queue of a paused agent overruns it, and every sample
# the module sent is either received or counted lost; SIGUSR1 prints the counters, SIGHUP
# applies a changed file, SIGTERM ends it within a second.
/usr/share/nltelem/load-module
cat >/tmp/agent.conf <<'CONF'
period_ms = 100
heartbeat_ms = 200
rcvbuf_bytes = 4096
groups = telemetry
CONF
nltelem run -c /tmp/agent.conf >/tmp/agent.out 2>&1 &
agent=$!
sleep 2
grep -c '^nltelem: ready' /tmp/agent.out
nltelem get config | sed 's/ sources.*//'
nltelem status --json | sed -n 's/.*"heartbeats":\([0-9]*\).*"agent_received":\([0-9]*\).*/heartbeats \1 agent_received \2/p' |
	awk '{ print ($2 > 0 ? "heartbeats arrive" : "no heartbeat"), ($4 > 0 ? "with samples counted" : "without samples") }'
# Flood: samples as fast as the module's timer allows into a 4 KiB queue, while the agent
# is stopped for a second, so the queue overflows.
nltelem set period_ms=1 >/dev/null
kill -STOP $agent
sleep 1
kill -CONT $agent
sleep 1
nltelem set period_ms=1000 >/dev/null
sleep 2
kill -USR1 $agent
sleep 1
grep '^counters' /tmp/agent.out | tail -1 |
	awk '{ print ($7 > 0 ? "overruns counted" : "no overrun"), ($5 > 0 ? "losses counted" : "no loss") }'
# The heartbeats (every 200 ms) carry the overruns to the module.
overruns=$(grep '^counters' /tmp/agent.out | tail -1 | awk '{print $7}')
seen=$(nltelem status | awk '{ for (i = 2; i < NF; i++) if ($i == "agent_overruns") print $(i + 1) }')
[ "$seen" = "$overruns" ] && echo "the module's agent_overruns = the agent's overruns" ||
	echo "MISMATCH: module says agent_overruns $seen, the agent counted $overruns"
# SIGHUP: a changed period is pushed.
sed -i 's/period_ms = 100/period_ms = 700/' /tmp/agent.conf
kill -HUP $agent
sleep 1
nltelem get config | sed 's/ sources.*//'
grep -c '^nltelem: configuration reloaded' /tmp/agent.out
kill -TERM $agent
for i in 1 2 3 4 5 6 7 8 9 10; do
	kill -0 $agent 2>/dev/null || break
	sleep 0.1
done
kill -0 $agent 2>/dev/null && echo "still running 1 s after SIGTERM" || echo "exited within 1 s of SIGTERM"
wait $agent; echo "agent: exit $?"
# Exact accounting: with the agent the only listener, every sample the module broadcast
# (delivered: telemetry_sent; dropped because the agent's queue was full: bcast_fail) was
# either received by the agent or counted lost from the sequence numbers.
broadcast=$(nltelem status | awk '{ for (i = 2; i < NF; i++)
	if ($i == "telemetry_sent" || $i ~ /^bcast_fail_errno_/) n += $(i + 1); print n }')
final=$(grep '^counters' /tmp/agent.out | tail -1)
received=$(echo "$final" | awk '{print $3}')
lost=$(echo "$final" | awk '{print $5}')
if [ "$broadcast" -eq $((received + lost)) ]; then
	echo "module broadcasts = agent received + lost"
else
	echo "MISMATCH: module broadcast $broadcast, agent received $received + lost $lost"
fi
