# requires: kmod
# A request whose nlmsg_pid is forged (0, or another socket's port) is answered to the real
# sender (NETLINK_CB(skb).portid) only; the socket it names receives nothing.
insmod /lib/modules/nltelem.ko
nltelem-kmod-check forged-pid
