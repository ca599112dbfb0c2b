# requires: kmod
# With listeners on both transports and a 1 ms sampling period, a request's sendmsg never
# sleeps: the input path never waits for the sampler. The times measured (p50, p99, max,
# calls over 1 ms with and without preemption), with the sampler idle and busy, go to the
# kernel log (/dev/kmsg), not to the compared output: under TCG they measure the emulator.
insmod /lib/modules/nltelem.ko
nltelem-kmod-check latency 2>/dev/kmsg
