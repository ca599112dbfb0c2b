SUMMARY = "nltelem: static telemetry agent for the nltelem kernel module"
DESCRIPTION = "Receives the module's samples, accounts for every lost one, and exports \
them as InfluxDB line protocol, Prometheus textfiles or MQTT 3.1.1 publishes."
LICENSE = "MIT | Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302 \
                    file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

inherit cargo cargo-update-recipe-crates externalsrc systemd update-rc.d

EXTERNALSRC = "${NLTELEM_SRC}"
EXTERNALSRC_BUILD = "${WORKDIR}/build"

# The crate list (SRC_URI entries with checksums) is generated from Cargo.lock, not kept
# here: run `bitbake -c update_crates nltelem` once, and again whenever Cargo.lock changes.
# `include`, not `require`: the recipe must parse before the list exists, for that task.
CARGO_SRC_DIR = "agent"
# Cargo.lock is the workspace's, at the root of the checkout.
CARGO_LOCK_SRC_DIR = "${S}"
include ${BPN}-crates.inc

# The workspace root is a virtual manifest; build only the agent's package.
CARGO_BUILD_FLAGS:append = " --package nltelem"

SYSTEMD_SERVICE:${PN} = "nltelem.service"
INITSCRIPT_NAME = "nltelem"
INITSCRIPT_PARAMS = "defaults 95 10"

do_install:append() {
	if ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'true', 'false', d)}; then
		install -D -m 0644 ${S}/packaging/systemd/nltelem.service \
			${D}${systemd_system_unitdir}/nltelem.service
	fi
	if ${@bb.utils.contains('DISTRO_FEATURES', 'sysvinit', 'true', 'false', d)}; then
		install -D -m 0755 ${S}/board/common/rootfs/etc/init.d/nltelem \
			${D}${sysconfdir}/init.d/nltelem
	fi
}

RRECOMMENDS:${PN} += "kernel-module-nltelem"
