#!/usr/bin/python3
"""The test guest's boot disk: a GRUB (grub-mkrescue hybrid) image that
boots build/guest/guest.elf with `multiboot2 /boot/guest.elf <cmdline>`.
Attach it as a hard disk (Bochs `type=disk, mode=flat`, QEMU raw IDE): the
hypervisor chainloads its first sector, or the BIOS boots it bare.

As a module (guest/ is not a package: add it to sys.path, or load the file
by path):

    sys.path.insert(0, os.path.join(ROOT, "guest"))
    import disk
    img = disk.build_guest_disk(scenarios="all", poweroff=True)

Command line:

    guest/disk.py [--elf build/guest/guest.elf] [--scenarios all]
                  [--no-poweroff] [--args "exitport=0xf4"] -o build/guest/guest-disk.img
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUEST_ELF = os.path.join(ROOT, "build", "guest", "guest.elf")
sys.path.insert(0, os.path.join(ROOT, "host-tools"))

from hvtools import image  # noqa: E402


def guest_cmdline(scenarios="all", poweroff=True, args=""):
    """The guest's command line: scenarios=... [poweroff=1] [args]."""
    if not isinstance(scenarios, str):
        scenarios = ",".join(scenarios)
    if not scenarios or any(c.isspace() for c in scenarios):
        raise ValueError(f"bad scenario list {scenarios!r}")
    parts = [f"scenarios={scenarios}"]
    if poweroff:
        parts.append("poweroff=1")
    if args:
        parts.append(args)
    return " ".join(parts)


def guest_grub_cfg(cmdline):
    """grub.cfg: GRUB on the serial line, no menu, boot the guest at once;
    if GRUB cannot, it says so on the serial line and halts."""
    return (image.SERIAL_HEAD
            + "set timeout=0\nset pager=0\n"
            + f"multiboot2 /boot/guest.elf {cmdline}\n"
            + "boot\n"
            + "echo 'guest disk: GRUB could not boot the guest'\n"
            + "halt\n")


def build_guest_disk(scenarios="all", poweroff=True, args="", elf=None, out=None,
                     cache_dir=None):
    """Build (or reuse from build/images/) the guest boot disk; returns its
    path (out if given, else the cached image, which callers must not
    modify -- QEMU/Bochs boots here only read it)."""
    elf = elf or GUEST_ELF
    if not os.path.isfile(elf):
        raise image.ImageError(f"{elf} is not built: run `make -f guest/guest.mk guest`")
    cfg = guest_grub_cfg(guest_cmdline(scenarios, poweroff, args))
    return image.build_grub_image(cfg, [(elf, "boot/guest.elf")], out=out,
                                  name="guest", cache_dir=cache_dir, suffix=".img")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Build the test guest's boot disk.")
    ap.add_argument("--elf", default=GUEST_ELF)
    ap.add_argument("--scenarios", default="all")
    ap.add_argument("--no-poweroff", action="store_true")
    ap.add_argument("--args", default="", help="more guest command-line words")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args(argv)
    try:
        out = build_guest_disk(a.scenarios, not a.no_poweroff, a.args, a.elf, a.out)
    except (image.ImageError, ValueError) as e:
        print(f"disk.py: {e}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
