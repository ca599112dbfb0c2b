# requires: kmod
# The module's periodic samples (default period 1 s) reach a listener that joined the
# `telemetry` group by the id the controller gave: three in a row, all from the kernel
# (port 0), with consecutive sequence numbers. Then one sample printed in full, with its
# values masked to digits-free placeholders so the transcript does not depend on them.
insmod /lib/modules/nltelem.ko
nltelem-watch --family nltelem --group telemetry --count 3 --timeout 30 --summary --check-seq
echo "watch: exit $?"
nltelem-watch --family nltelem --group telemetry --count 1 --timeout 30 | sed 's/=[0-9][0-9]*/=N/g'
rmmod nltelem && echo "rmmod: ok"
