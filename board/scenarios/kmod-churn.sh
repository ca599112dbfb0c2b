# requires: kmod
# Dumps of 1,000 interfaces while another process adds and removes one: every dump is
# either flagged NLM_F_DUMP_INTR or lists each interface once. Counts go to the kernel log.
insmod /lib/modules/$(uname -r)/dummy.ko numdummies=1000
insmod /lib/modules/nltelem.ko
(
	i=0
	while [ $i -lt 300 ]; do
		ip link add churn0 type dummy
		ip link del churn0
		i=$((i + 1))
	done
) &
churner=$!
nltelem-kmod-check churn 2>/dev/kmsg
kill $churner 2>/dev/null
wait $churner 2>/dev/null
echo "churn done"
