# requires: kmod
# requires: agent
# /etc/init.d/nltelem drives the agent through busybox start-stop-daemon: status of a stopped
# agent; start; start again (no second process); reload (SIGHUP: the same process keeps
# running); restart (a new process); stop; status again, and no process left.
/usr/share/nltelem/load-module
/etc/init.d/nltelem status; echo "status: exit $?"
/etc/init.d/nltelem start; echo "start: exit $?"
sleep 1
/etc/init.d/nltelem start | sed 's/pid [0-9]*/pid N/'
echo "processes: $(pidof nltelem | wc -w)"
first=$(cat /run/nltelem.pid)
/etc/init.d/nltelem reload; echo "reload: exit $?"
sleep 1
/etc/init.d/nltelem status >/dev/null; echo "status after reload: exit $?"
test "$(cat /run/nltelem.pid)" = "$first" && echo "same process after reload"
/etc/init.d/nltelem restart; echo "restart: exit $?"
sleep 1
test "$(cat /run/nltelem.pid)" != "$first" && echo "a new process after restart"
/etc/init.d/nltelem stop; echo "stop: exit $?"
/etc/init.d/nltelem status; echo "status: exit $?"
echo "processes: $(pidof nltelem | wc -w)"
