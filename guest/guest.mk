# The test guest kernel: build/guest/guest.elf (and a default boot disk).
#
# Included by the top-level Makefile (`include guest/guest.mk`), or on its
# own: `make -f guest/guest.mk` (from the repository root).
# Every variable here is GUEST_-prefixed so nothing clashes with the
# hypervisor's; BUILD, CC and PY default to the top-level Makefile's values.

BUILD ?= build
ifeq ($(origin CC),default)
CC    := gcc
endif
PY    ?= /usr/bin/python3

GUEST_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-builtin -nostdinc \
	-isystem $(shell $(CC) -print-file-name=include) \
	-mno-red-zone -mgeneral-regs-only -mcmodel=small -fno-pic -fno-pie \
	-fno-stack-protector -fno-omit-frame-pointer -fno-strict-aliasing \
	-fno-delete-null-pointer-checks -fno-asynchronous-unwind-tables \
	-fcf-protection=none -Wall -Wextra -Werror -Wno-unused-parameter -Iguest -Iabi
GUEST_ASFLAGS := -g -Iguest -Iabi -D__ASSEMBLY__
GUEST_LDFLAGS := -nostdlib -static -no-pie -z max-page-size=0x1000 -z noexecstack \
	-Wl,--build-id=none -T guest/guest.ld

GUEST_C_SRCS := $(sort $(wildcard guest/*.c guest/scenarios/*.c guest/scenarios/*/*.c))
GUEST_S_SRCS := $(sort $(wildcard guest/*.S))
GUEST_OBJS   := $(GUEST_C_SRCS:%.c=$(BUILD)/%.o) $(GUEST_S_SRCS:%.S=$(BUILD)/%.o)
GUEST_ELF    := $(BUILD)/guest/guest.elf
GUEST_DISK   := $(BUILD)/guest/guest-disk.img
GUEST_SCENARIOS ?= all

.PHONY: guest guest-disk
guest: $(GUEST_ELF)

$(BUILD)/guest/%.o: guest/%.c guest/guest.mk
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/guest/%.o: guest/%.S guest/guest.mk
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_ASFLAGS) -MMD -MP -c $< -o $@

$(GUEST_ELF): $(GUEST_OBJS) guest/guest.ld
	$(CC) $(GUEST_LDFLAGS) -o $@ $(GUEST_OBJS)

# A GRUB hard-disk image booting the guest with scenarios=$(GUEST_SCENARIOS)
# poweroff=1 (tests build their own through guest/disk.py).
guest-disk: $(GUEST_DISK)
$(GUEST_DISK): $(GUEST_ELF) guest/disk.py host-tools/hvtools/image.py FORCE_GUEST_DISK
	$(PY) guest/disk.py --elf $(GUEST_ELF) --scenarios "$(GUEST_SCENARIOS)" -o $@
.PHONY: FORCE_GUEST_DISK
FORCE_GUEST_DISK:

-include $(GUEST_OBJS:.o=.d)
