# requires: kmod
# requires: agent
# The agent as the board runs it: started by /etc/init.d/nltelem with the board's
# /etc/nltelem.conf (period 1000 ms), it receives samples at that period; after
# `nltelem set period_ms=200` at the new one. Rates are judged from the counters the agent
# heartbeats to the module (agent_received in `nltelem status`), with wide margins for TCG.
/usr/share/nltelem/load-module
received() {
	nltelem status | awk '{ for (i = 2; i < NF; i++) if ($i == "agent_received") print $(i + 1) }'
}
/etc/init.d/nltelem start
sleep 2
first=$(received)
sleep 4
second=$(received)
n=$((second - first))
[ "$n" -ge 3 ] && [ "$n" -le 5 ] && echo "period 1000 ms: about 4 samples in 4 s" || echo "period 1000 ms: $n samples in 4 s"
nltelem set period_ms=200 | sed 's/ sources.*//'
sleep 2
first=$(received)
sleep 4
second=$(received)
n=$((second - first))
[ "$n" -ge 14 ] && [ "$n" -le 26 ] && echo "period 200 ms: about 20 samples in 4 s" || echo "period 200 ms: $n samples in 4 s"
/etc/init.d/nltelem stop
