# requires: kmod
# Every command on both transports (generic netlink family and classic unit 25), then bad
# requests: a missing required attribute, a wrong type, an out-of-range value, an unknown
# attribute, no settings, an attribute where none is taken, an unknown command. Each gets
# its errno and the module's ext-ack message (the genl core itself refuses unknown
# commands, without a message).
insmod /lib/modules/nltelem.ko
nltelem-kmod-check requests
