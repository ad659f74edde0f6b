# pal_demo (trustvisor/pal_demo/): static Linux programs with the machine's
# gcc, 64-bit and 32-bit (-m32: gcc-multilib, mk/deps.sh), put into the
# Linux guest's initramfs (guest/linux/linux_guest.py).
# Included by the top-level Makefile and by mk/linux-guest.mk (once).
ifndef PAL_DEMO_MK
PAL_DEMO_MK := 1
PAL_DEMO_DIR  := trustvisor/pal_demo
PAL_DEMO_OUT  := build/pal_demo
PAL_DEMO_SRCS := $(addprefix $(PAL_DEMO_DIR)/,pal_demo.c test_args.c seal_peek.c)
PAL_DEMO_DEPS := $(wildcard $(PAL_DEMO_DIR)/*.h) abi/tvabi.h $(PAL_DEMO_DIR)/pal.ld
PAL_DEMO_BINS := $(PAL_DEMO_OUT)/pal_demo64 $(PAL_DEMO_OUT)/pal_demo32
PAL_DEMO_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-fno-pie -Iabi
# The PALs run where nothing but their own sections is mapped: no stack
# protector (TLS canary), no jump tables (.rodata), no library calls for
# loops, no SSE; pal_demo_check.sh makes sure no reference leaves them.
PAL_DEMO_PAL_CFLAGS := $(PAL_DEMO_CFLAGS) -ffreestanding -fno-builtin -fno-stack-protector \
	-fno-jump-tables -fno-tree-loop-distribute-patterns -mgeneral-regs-only \
	-fcf-protection=none -fno-asynchronous-unwind-tables

.PHONY: pal-demo
pal-demo: $(PAL_DEMO_BINS)

$(PAL_DEMO_OUT)/pals64.o $(PAL_DEMO_OUT)/pal_demo64: PAL_DEMO_M := -m64
$(PAL_DEMO_OUT)/pals32.o $(PAL_DEMO_OUT)/pal_demo32: PAL_DEMO_M := -m32

$(PAL_DEMO_OUT)/pals%.o: $(PAL_DEMO_DIR)/pals.c $(PAL_DEMO_DEPS)
	@mkdir -p $(dir $@)
	gcc $(PAL_DEMO_M) $(PAL_DEMO_PAL_CFLAGS) -c $< -o $@
	sh $(PAL_DEMO_DIR)/pal_demo_check.sh $@

$(PAL_DEMO_OUT)/pal_demo%: $(PAL_DEMO_SRCS) $(PAL_DEMO_OUT)/pals%.o $(PAL_DEMO_DEPS)
	gcc $(PAL_DEMO_M) $(PAL_DEMO_CFLAGS) -static -no-pie -Wl,-T,$(PAL_DEMO_DIR)/pal.ld -o $@ \
		$(PAL_DEMO_SRCS) $(PAL_DEMO_OUT)/pals$*.o
endif
