################################################################################
#
# nltelem
#
################################################################################

NLTELEM_VERSION = 0.1.0
# This checkout (a cargo workspace with a virtual root manifest); the agent is the
# `nltelem` package in agent/.
NLTELEM_SITE = $(BR2_EXTERNAL_NLTELEM_PATH)/../..
NLTELEM_SITE_METHOD = local
NLTELEM_LICENSE = MIT or Apache-2.0
# Build output (host binaries) and history stay out of the copy.
NLTELEM_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = --exclude /target --exclude /.git

# A local site has no download step, so nothing vendors the crates that pkg-cargo builds
# --offline: vendor them before the build, and point cargo at the copy (appended to the
# workspace's .cargo/config.toml, which has no [source] table of its own).
define NLTELEM_VENDOR_CRATES
	cd $(@D) && CARGO_HOME=$(BR_CARGO_HOME) $(HOST_DIR)/bin/cargo vendor --locked \
		--versioned-dirs vendor >$(@D)/.cargo-vendor.toml
	mkdir -p $(@D)/.cargo
	cat $(@D)/.cargo-vendor.toml >>$(@D)/.cargo/config.toml
endef
NLTELEM_PRE_BUILD_HOOKS += NLTELEM_VENDOR_CRATES

# Line protocol is always built; the other exporters are cargo features chosen in
# menuconfig.
NLTELEM_FEATURES = \
	$(if $(BR2_PACKAGE_NLTELEM_MQTT),mqtt) \
	$(if $(BR2_PACKAGE_NLTELEM_PROMETHEUS),prometheus)
NLTELEM_CARGO_BUILD_OPTS = --package nltelem --no-default-features \
	--features "$(strip $(NLTELEM_FEATURES))"

# `cargo install --path ./` (pkg-cargo's default) refuses a virtual manifest.
define NLTELEM_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 \
		$(@D)/target/$(RUSTC_TARGET_NAME)/$(if $(BR2_ENABLE_DEBUG),debug,release)/nltelem \
		$(TARGET_DIR)/usr/bin/nltelem
endef

# The busybox init script of the qemu boards serves Buildroot's busybox init as well.
define NLTELEM_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(@D)/board/common/rootfs/etc/init.d/nltelem \
		$(TARGET_DIR)/etc/init.d/S95nltelem
endef

define NLTELEM_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(@D)/packaging/systemd/nltelem.service \
		$(TARGET_DIR)/usr/lib/systemd/system/nltelem.service
endef

$(eval $(cargo-package))
