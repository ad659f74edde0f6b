"""The Linux guest disk (guest/linux/): Debian's kernel + busybox initramfs on
a GRUB boot disk, booted bare (no hypervisor) in QEMU TCG and in Bochs.

The packages are fetched once into build/linux-guest/debs (make linux-guest);
the tests build through guest/linux/linux_guest.py, which runs make itself if
the artifacts are missing.
"""
import gzip
import re

import pytest

import linux_guest  # guest/linux/linux_guest.py
from hvtools.emu import Machine
from linux_guest import DONE, UP_RE, build_linux_disk, guest_disk


@pytest.fixture(scope="module")
def artifacts():
    return linux_guest.ensure_artifacts()


def _cpio_names(data):
    names, off = [], 0
    while True:
        assert data[off:off + 6] == b"070701", f"bad cpio magic at {off}"
        f = [int(data[off + 6 + 8 * i: off + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = f[1], f[6], f[11]
        name = data[off + 110: off + 110 + namesize - 1].decode()
        off += 110 + namesize
        off += -off % 4
        off += size + (-size % 4)
        if name == "TRAILER!!!":
            return names
        names.append((name, mode))


def test_initramfs_contents_and_reproducible(artifacts, tmp_path):
    _, initrd = artifacts
    with open(initrd, "rb") as f:
        raw = f.read()
    names = dict(_cpio_names(gzip.decompress(raw)))
    assert oct(names["init"]) == oct(0o100755)
    assert names["bin/busybox"] & 0o170000 == 0o100000
    assert names["dev/console"] & 0o170000 == 0o020000
    for applet in ("bin/sh", "bin/mount", "bin/dmesg", "sbin/poweroff"):
        assert names[applet] & 0o170000 == 0o120000, applet
    again = linux_guest.make_initramfs(str(tmp_path / "again.gz"))
    with open(again, "rb") as f:
        assert f.read() == raw, "initramfs build is not reproducible"


def test_disk_args_in_grub_cfg():
    cfg = linux_guest.grub_cfg("nox2apic hvtest=sysrq-l:20")
    line = next(l for l in cfg.splitlines() if l.startswith("linux "))
    assert line == f"linux /vmlinuz {linux_guest.KERNEL_ARGS} nox2apic hvtest=sysrq-l:20"
    assert "console=ttyS0,115200" in line
    assert "initrd /initrd.gz" in cfg and "\nboot\n" in cfg
    with pytest.raises(ValueError):
        linux_guest.grub_cfg("a;b")


# /init prints through printk: each line carries "[    t.tttttt] ".
PRINTK = r"^(?:\[\s*\d+\.\d+\] )?"


def _check_output(text, cpus):
    text = text.replace("\r", "")
    up = re.search(UP_RE, text)
    assert up, text[-3000:]
    assert int(up.group(1)) == cpus, up.group(0)
    assert up.group(2) == linux_guest.packages().get("release", up.group(2))
    procs = re.findall(PRINTK + r"processor\s*: (\d+)", text, re.M)
    assert [int(p) for p in procs] == list(range(cpus)), procs
    dmesg = [l for l in text.splitlines() if re.match(PRINTK + "DMESG:", l)]
    assert not [l for l in dmesg if re.search(r"do_boot_cpu", l, re.I)], dmesg
    assert not [l for l in dmesg if re.search(r"kernel panic|BUG:", l)], dmesg


@pytest.mark.emulator
def test_qemu_tcg_two_cpus(artifacts, tmp_path):
    disk = build_linux_disk("hvtest=sysrq-l:2")
    with Machine(emu="qemu", kvm=False, disks=[disk], cpus=2, memory=256,
                 timeout=150, workdir=str(tmp_path / "qemu")) as m:
        m.wait_for(DONE, timeout=120)
        text = m.text
        # poweroff -f: QEMU exits by itself.
        m.wait_exit(timeout=30)
    _check_output(text, 2)
    assert "HVTEST sysrq-l done" in text
    assert text.index("HVTEST sysrq-l done") < text.index(DONE)


@pytest.mark.emulator
def test_bochs_one_cpu(artifacts, tmp_path):
    # ~75 s here, most of it the kernel's XZ self-decompression.
    disk = guest_disk("bochs", build_linux_disk())
    with Machine(emu="bochs", disks=[disk], cpus=1, model="corei7_skylake_x",
                 memory=256, timeout=330, workdir=str(tmp_path / "bochs")) as m:
        m.wait_for(DONE, timeout=300)
        text = m.text
    _check_output(text, 1)


@pytest.mark.emulator
@pytest.mark.stress
def test_bochs_two_cpus(artifacts, tmp_path):
    # Long (see guest/linux/README or the report): only with --run-stress.
    disk = guest_disk("bochs", build_linux_disk())
    with Machine(emu="bochs", disks=[disk], cpus=2, model="corei7_skylake_x",
                 memory=256, timeout=420, workdir=str(tmp_path / "bochs2")) as m:
        m.wait_for(DONE, timeout=400)
        text = m.text
    _check_output(text, 2)
