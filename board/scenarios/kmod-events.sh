# requires: kmod
# Events on both transports: a configuration change names the requester's port and
# transport, a memory threshold and the heartbeat watchdog fire, and a dummy interface
# going up and down gives link events.
insmod /lib/modules/$(uname -r)/dummy.ko numdummies=0
insmod /lib/modules/nltelem.ko
nltelem-kmod-check events
