# requires: kmod
# 1,000 dummy interfaces plus lo: a broadcast snapshot, a GET_SAMPLE reply and a DUMP_NETDEV
# carry all 1,001 on both transports, snapshots split into parts within NLMSG_GOODSIZE that
# share one snapshot sequence number and end with the last-part marker, group sequence
# numbers without gaps.
insmod /lib/modules/$(uname -r)/dummy.ko numdummies=1000
insmod /lib/modules/nltelem.ko
nltelem-kmod-check scale 1001
