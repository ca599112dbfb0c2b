# requires: kmod
# requires: agent
# The commands against the module: get, get config, set, dump, status, monitor; their
# JSON forms; usage errors (64), the module missing (69), a bad config (78). Measured
# values are masked (every number becomes N) where they vary between runs.
nltelem status; echo "status without the module: exit $?"
/usr/share/nltelem/load-module
nltelem get | sed -E 's/([ :])[0-9.]+/\1N/g'
nltelem get >/dev/null; echo "get: exit $?"
nltelem get --json | sed -E 's/([ :])[0-9.]+/\1N/g'
nltelem get config
nltelem set period_ms=250 sources=load,memory,netdev
echo "set: exit $?"
nltelem get config --json
nltelem dump | sed -E 's/([ :])[0-9.]+/\1N/g'
nltelem dump --json | sed -E 's/([ :])[0-9.]+/\1N/g'
nltelem status | sed -E 's/([ :])[0-9.]+/\1N/g'
nltelem status --json | sed -E 's/([ :])[0-9.]+/\1N/g'
timeout 2 nltelem monitor >/tmp/monitor.out; echo "monitor stopped by SIGTERM: exit $?"
head -1 /tmp/monitor.out | sed -E 's/([ :])[0-9.]+/\1N/g'
timeout 2 nltelem monitor --json >/tmp/monitor.json
grep -c '"type":"sample"' /tmp/monitor.json | awk '{ print ($1 > 2 ? "monitor --json: samples" : "monitor --json: too few samples") }'
nltelem fly; echo "unknown command: exit $?"
nltelem set period_ms=0; echo "bad value: exit $?"
printf 'period_ms = 10\nperiod = 5\n' >/tmp/bad.conf
nltelem status -c /tmp/bad.conf; echo "bad config: exit $?"
nltelem get --help | head -1
# Started without standard output or error (a careless init): the words go nowhere, and not
# into the request socket that would otherwise take descriptor 1.
nltelem get config >&- 2>&-; echo "closed stdout and stderr: exit $?"
nltelem get config 1>&- 2>/dev/null; echo "closed stdout: exit $?"
