# The Linux guest (guest/linux/): Debian's kernel and busybox-static, an
# initramfs with guest/linux/init. Included by the top-level Makefile; also
# works alone: make -f mk/linux-guest.mk linux-guest
#
#   build/linux-guest/debs/       downloaded .debs (cache, fetched once)
#   build/linux-guest/vmlinuz     the kernel of linux-image-6.1.0-*-amd64
#   build/linux-guest/initrd.gz   newc cpio + gzip, reproducible
#
# Boot disks (GRUB + kernel args) are made on demand by
# guest/linux/linux_guest.py (build_linux_disk), cached under build/images/.

# Keep the including Makefile's default goal (this file may be included
# before its first target); alone, the default goal is linux-guest.
LINUX_GUEST_PREV_GOAL := $(.DEFAULT_GOAL)

PY          ?= /usr/bin/python3
LINUX_GUEST := build/linux-guest
# pal_demo goes into the initramfs (/bin/pal_demo64).
include mk/pal_demo.mk

.PHONY: linux-guest linux-guest-clean
linux-guest: $(LINUX_GUEST)/vmlinuz $(LINUX_GUEST)/initrd.gz

# fetch.sh uses cached .debs without touching the network; it also writes
# busybox, kernel-config, kernel-release and packages.txt.
$(LINUX_GUEST)/vmlinuz $(LINUX_GUEST)/busybox: guest/linux/fetch.sh
	sh guest/linux/fetch.sh $(LINUX_GUEST)/debs $(LINUX_GUEST)
	@touch $(LINUX_GUEST)/vmlinuz $(LINUX_GUEST)/busybox

$(LINUX_GUEST)/initrd.gz: $(LINUX_GUEST)/busybox guest/linux/init guest/linux/linux_guest.py \
		$(PAL_DEMO_BINS)
	$(PY) guest/linux/linux_guest.py initramfs -o $@

# Removes the extracted files, keeps the downloaded .debs.
linux-guest-clean:
	rm -f $(LINUX_GUEST)/vmlinuz $(LINUX_GUEST)/busybox $(LINUX_GUEST)/initrd.gz \
	      $(LINUX_GUEST)/kernel-config $(LINUX_GUEST)/kernel-release \
	      $(LINUX_GUEST)/packages.txt

ifeq ($(words $(MAKEFILE_LIST)),1)
.DEFAULT_GOAL := linux-guest
else
.DEFAULT_GOAL := $(LINUX_GUEST_PREV_GOAL)
endif
