# requires: kmod
# nltelem.ko loads into Debian's kernel, registers the generic netlink family `nltelem` with
# its two multicast groups and opens its classic unit (25), taints the kernel only as
# out-of-tree (O) and unsigned (E), unloads cleanly taking its family with it, and loads again.
insmod /lib/modules/nltelem.ko && echo "insmod: ok"
test -d /sys/module/nltelem && echo "sysfs: /sys/module/nltelem present"
nltelem-watch --family nltelem --show
# /proc/net/netlink: a kernel socket (port 0) on protocol unit 25.
awk '$2 == 25 && $3 == 0 { found = 1 } END { print "classic unit 25: " (found ? "kernel socket open" : "missing") }' /proc/net/netlink
tainted=$(cat /proc/sys/kernel/tainted)
echo "taint: out-of-tree $(( (tainted >> 12) & 1 )), unsigned $(( (tainted >> 13) & 1 ))"
rmmod nltelem && echo "rmmod: ok"
nltelem-watch --family nltelem --show
echo "family after rmmod: exit $?"
awk '$2 == 25 && $3 == 0 { found = 1 } END { print "classic unit 25 after rmmod: " (found ? "still open" : "closed") }' /proc/net/netlink
insmod /lib/modules/nltelem.ko && echo "insmod again: ok"
nltelem-watch --family nltelem --show
rmmod nltelem && echo "rmmod again: ok"
