SUMMARY = "nltelem.ko: appliance telemetry over generic and classic netlink"
DESCRIPTION = "Samples load, memory, CPU times, interface counters and thermal zones in \
the kernel and broadcasts them over the generic netlink family nltelem."
LICENSE = "GPL-2.0-only"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/GPL-2.0-only;md5=801f80980d171dd6425610833a22dbe6"

inherit module externalsrc

# Built inside kmod/ of the checkout (its .gitignore covers the build output), as the
# module's own Makefile expects: it runs `make -C $(KERNEL_SRC) M=$(CURDIR) modules`.
EXTERNALSRC = "${NLTELEM_SRC}/kmod"
EXTERNALSRC_BUILD = "${EXTERNALSRC}"

# kmod/Makefile has no `modules_install` target: install through the kernel's Kbuild,
# which takes MODLIB and O from module.bbclass's command line.
MODULES_INSTALL_TARGET = "-C ${STAGING_KERNEL_DIR} M=${S} modules_install"

RPROVIDES:${PN} += "kernel-module-nltelem"
KERNEL_MODULE_AUTOLOAD += "nltelem"
