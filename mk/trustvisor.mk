# TrustVisor (trustvisor/): a hypapp compiled into hv.elf with the
# hypervisor's own flags, a layer above hv/hypapp (hv/layers.txt), and its
# portable cores (the micro-TPM's hash) also built into host unit tests.
# Included by the top-level Makefile after the hypervisor's and the host
# builds' variables, before any rule.

TV_C_SRCS := $(sort $(wildcard trustvisor/*.c))
HV_OBJS   += $(TV_C_SRCS:%.c=$(BUILD)/hv/%.o)
# "trustvisor/..." includes from hv/boot, which wires it in.
HV_CFLAGS += -I.
HOST_CFLAGS += -I.
PORTABLE_SRCS += trustvisor/sha1.c
HOST_DEPS += $(wildcard trustvisor/*.h)
