# TrustVisor (trustvisor/): a hypapp compiled into hv.elf with the
# hypervisor's own flags, a layer above hv/hypapp (hv/layers.txt), and its
# portable cores (the micro-TPM's operations and the crypto known-answer
# tests, on BearSSL: mk/bearssl.mk) also built into a host unit test.
# Included by the top-level Makefile after the hypervisor's and the host
# builds' variables, before any rule.
include mk/bearssl.mk

TV_C_SRCS := $(sort $(wildcard trustvisor/*.c))
TV_OBJS   := $(TV_C_SRCS:%.c=$(BUILD)/hv/%.o)
HV_OBJS   += $(TV_OBJS)
HV_LIBS   += $(BEARSSL_HV_LIB)
# "trustvisor/..." includes from hv/boot, which wires it in.
HV_CFLAGS += -I.
HOST_CFLAGS += -I.
HOST_DEPS += $(wildcard trustvisor/*.h)
# BearSSL's headers: for TrustVisor's objects and the crypto selftest, once
# the source is unpacked.
CRYPTO_HV_OBJS := $(TV_OBJS) $(BUILD)/hv/hv/selftest/crypto_selftest.o
$(CRYPTO_HV_OBJS): HV_CFLAGS += -I$(BEARSSL_DIR)/inc
$(CRYPTO_HV_OBJS): | $(BEARSSL_STAMP)

# The host unit test of the micro-TPM's crypto: its portable cores and
# BearSSL built for the host.
TV_PORTABLE := trustvisor/utpm_core.c trustvisor/crypto_vectors.c
$(BUILD)/host/test_crypto: tests/unit/test_crypto.c $(TV_PORTABLE) $(BEARSSL_HOST_LIB) $(HOST_DEPS) abi/tvabi.h tests/unit/unit_check.h
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -Iabi -I$(BEARSSL_DIR)/inc -fsanitize=address,undefined -o $@ \
		$< $(TV_PORTABLE) $(BEARSSL_HOST_LIB)
