################################################################################
#
# nltelem-module
#
################################################################################

NLTELEM_MODULE_VERSION = 0.1.0
# This checkout; the br2-external tree is packaging/buildroot/ inside it.
NLTELEM_MODULE_SITE = $(BR2_EXTERNAL_NLTELEM_PATH)/../../kmod
NLTELEM_MODULE_SITE_METHOD = local
NLTELEM_MODULE_LICENSE = GPL-2.0
# kernel-module builds with `$(MAKE) -C $(LINUX_DIR) M=$(@D)`: kmod/Kbuild is all it needs.

$(eval $(kernel-module))
$(eval $(generic-package))
