# The guest boots Debian's kernel, busybox runs, and nlcore speaks generic netlink with the
# guest kernel: nltelem-watch resolves the controller's own family through the controller.
uname -s
test -x /bin/busybox && echo "busybox: ok"
/usr/bin/nltelem-watch --family nlctrl --show
/usr/bin/nltelem-watch --family no-such-family --show
echo "unknown family: exit $?"
