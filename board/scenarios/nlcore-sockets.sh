# nlcore's socket tests (nlcore/tests/sock_*.rs, built for this board's target and put in
# the image by `cargo xtask image`) against the guest's real kernel, as root. qemu-user
# refuses NETLINK_GENERIC and NETLINK_USERSOCK sockets, so `cargo xtask test cross` cannot
# run most of them on other architectures; here they all run. Per test binary: libtest's
# result lines (timings dropped), then the NOT RUN lines the tests wrote to stderr, then its
# exit status; a failing binary's whole output follows.
# busybox has no iproute2 `genl`: the one comparison with `genl ctrl list` reports NOT RUN.
export NLCORE_SOCK_WITHOUT_IPROUTE2="the guest's busybox has no iproute2 genl"
cd /usr/libexec/nlcore-tests/deps || exit 1
for t in sock_dump sock_examples sock_genl sock_route sock_usersock; do
	./$t --test-threads=1 >/tmp/$t.out 2>/tmp/$t.err
	rc=$?
	grep -E '^(running |test )' /tmp/$t.out | sed 's/; finished in .*//'
	grep '^NOT RUN' /tmp/$t.err
	echo "[$t exit $rc]"
	if [ "$rc" != 0 ]; then
		echo "--- whole output of $t ---"
		cat /tmp/$t.out /tmp/$t.err
	fi
done
