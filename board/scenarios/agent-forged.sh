# requires: kmod
# requires: agent
# A root process sends the running agent well-formed samples, to the telemetry group as the
# module does and to the agent's own port: the agent takes none of them (the sender is not
# the kernel) and counts each one as forged; the module's own samples still add up exactly.
/usr/share/nltelem/load-module
cat >/tmp/agent.conf <<'CONF'
period_ms = 200
heartbeat_ms = 0
groups = telemetry
CONF
nltelem run -c /tmp/agent.conf >/tmp/agent.out 2>&1 &
agent=$!
sleep 2
grep -c '^nltelem: ready' /tmp/agent.out
nltelem-kmod-check forge-samples 100
sleep 1
kill -USR1 $agent
sleep 1
grep '^counters' /tmp/agent.out | tail -1 |
	awk '{ for (i = 2; i < NF; i += 2) if ($i == "forged" || $i == "malformed") print $i, $(i + 1) }'
kill -TERM $agent
wait $agent; echo "agent: exit $?"
broadcast=$(nltelem status | awk '{ for (i = 2; i < NF; i++)
	if ($i == "telemetry_sent" || $i ~ /^bcast_fail_errno_/) n += $(i + 1); print n }')
final=$(grep '^counters' /tmp/agent.out | tail -1)
received=$(echo "$final" | awk '{print $3}')
lost=$(echo "$final" | awk '{print $5}')
if [ "$broadcast" -eq $((received + lost)) ] && [ "$received" -gt 0 ]; then
	echo "module broadcasts = agent received + lost"
else
	echo "MISMATCH: module broadcast $broadcast, agent received $received + lost $lost"
fi
