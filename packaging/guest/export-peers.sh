# The agent in the qemu guest exports to real consumers on the host side of a tap device
# (192.0.2.1: mosquitto, InfluxDB's UDP listener), run by `cargo xtask test export`.
# It samples for a while, stops the module's sampling, prints its counters and the
# Prometheus textfile, then is killed with SIGKILL so the broker publishes its will.
# Every wait is bounded; the host checks what arrived against the counters printed here.
release=$(uname -r)
# The network card's modules, dependencies first (the list comes with them).
while read -r m; do
	insmod "/lib/modules/$release/$m" || echo "insmod $m failed"
done </usr/share/nltelem/net-modules
ip link set eth0 up
ip addr add 192.0.2.2/24 dev eth0
/usr/share/nltelem/load-module
mkdir -p /tmp/prometheus
cat >/tmp/agent.conf <<'CONF'
period_ms = 250
groups = telemetry
export = mqtt:192.0.2.1:1883,qos=1,prefix=nltelem-guest
export = line-protocol:udp:192.0.2.1:8089
export = prometheus:/tmp/prometheus/nltelem.prom
CONF
nltelem run -c /tmp/agent.conf >/tmp/agent.out 2>&1 &
agent=$!
sleep 6
# Stop the samples (a period of an hour), let the last ones go out, then count.
nltelem set period_ms=3600000 >/dev/null
sleep 2
kill -USR1 $agent
sleep 1
grep '^counters' /tmp/agent.out | tail -1
echo "prometheus-begin"
cat /tmp/prometheus/nltelem.prom
echo "prometheus-end"
kill -KILL $agent
wait $agent 2>/dev/null
echo "agent killed"
