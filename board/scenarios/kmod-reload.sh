# requires: kmod
# Unload while a generic netlink listener is subscribed to telemetry (allowed: the family
# goes away under it), load again and listen anew. A socket open on the classic unit holds
# a reference on the module (the netlink core takes it), so rmmod waits until it closes.
insmod /lib/modules/nltelem.ko
nltelem-watch --family nltelem --group telemetry --timeout 15 --summary >/tmp/watch.out 2>&1 &
watcher=$!
sleep 2
rmmod nltelem && echo "rmmod with a genl listener subscribed: ok"
insmod /lib/modules/nltelem.ko && echo "insmod again: ok"
nltelem-watch --family nltelem --group telemetry --count 1 --timeout 10 --summary
kill $watcher 2>/dev/null
wait $watcher 2>/dev/null
nltelem-kmod-check listen 20 &
listener=$!
sleep 2
rmmod nltelem 2>/dev/null
echo "rmmod with a classic socket open: exit $?"
kill $listener 2>/dev/null
wait $listener 2>/dev/null
rmmod nltelem && echo "rmmod after the classic socket closed: ok"
