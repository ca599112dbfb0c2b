include $(sort $(wildcard $(BR2_EXTERNAL_NLTELEM_PATH)/package/*/*.mk))
