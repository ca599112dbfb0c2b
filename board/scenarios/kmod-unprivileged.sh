# requires: kmod
# Without root (uid 65534, no capabilities) the configuration can be read on both transports
# but SET_CONFIG and HEARTBEAT are refused with EPERM (GENL_ADMIN_PERM on the family,
# netlink_net_capable on the classic unit).
insmod /lib/modules/nltelem.ko
nltelem-kmod-check unprivileged
