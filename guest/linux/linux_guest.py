#!/usr/bin/python3
"""The Linux guest: Debian's own kernel and busybox on a GRUB boot disk.

Pieces (all under build/linux-guest/):

    debs/              the downloaded .debs (cache; never fetched twice)
    vmlinuz            linux-image-6.1.0-*-amd64's kernel    } fetch.sh
    busybox            busybox-static's /bin/busybox         }
    packages.txt       package names and versions used       }
    initrd.gz          newc cpio + gzip: busybox, its applet links, /init,
                       /bin/pal_demo64 and pal_demo32 (build/pal_demo/,
                       mk/pal_demo.mk),
                       /dev/console (built here, reproducibly: fixed mtimes,
                       owners and order, so the same inputs give the same bytes)

`make linux-guest` (mk/linux-guest.mk) makes vmlinuz and initrd.gz. The boot
disk is a GRUB image made by hvtools.image.build_grub_image (cached under
build/images/, named by content): GRUB on the serial line, no menu, then
`linux /vmlinuz console=ttyS0,115200 <KERNEL_ARGS> <extra>`, `initrd`, `boot`.

    from linux_guest import build_linux_disk
    disk = build_linux_disk("nox2apic hvtest=sysrq-l:20")
    with Machine(emu="qemu", disks=[disk], cpus=2) as m:
        m.wait_for(DONE, timeout=60)

The guest prints (see guest/linux/init): `LINUX-GUEST-UP cpus=N kernel=R uptime=S`,
/proc/cpuinfo's `processor : n` lines, `HVTEST <name> done`, `DMESG: ...`
lines, `LINUX-GUEST-DONE`, then powers off.

Command line:

    linux_guest.py fetch | initramfs | artifacts     (what make runs)
    linux_guest.py disk [--args "..."] [-o OUT]      prints the disk's path
    linux_guest.py boot [--emu bochs|qemu] [--cpus N] [--args "..."] ...
                                                     boots it, prints timings
"""
import argparse
import gzip
import io
import os
import re
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "host-tools"))

from hvtools import image  # noqa: E402

OUT_DIR = os.path.join(ROOT, "build", "linux-guest")
DEBS_DIR = os.path.join(OUT_DIR, "debs")
VMLINUZ = os.path.join(OUT_DIR, "vmlinuz")
BUSYBOX = os.path.join(OUT_DIR, "busybox")
INITRD = os.path.join(OUT_DIR, "initrd.gz")
PACKAGES = os.path.join(OUT_DIR, "packages.txt")
INIT_SCRIPT = os.path.join(HERE, "init")
# TrustVisor's pal_demo (mk/pal_demo.mk), /bin/<name> in the initramfs.
PAL_DEMO = [os.path.join(ROOT, "build", "pal_demo", n) for n in ("pal_demo64", "pal_demo32")]
FETCH_SH = os.path.join(HERE, "fetch.sh")
MK_FILE = os.path.join(ROOT, "mk", "linux-guest.mk")

# Markers printed by /init.
UP_RE = r"LINUX-GUEST-UP cpus=(\d+) kernel=(\S+)"
DONE = "LINUX-GUEST-DONE"

# The kernel command line every disk gets (before the caller's extra args).
#   console=ttyS0,115200  the built-in 8250 console: the only output there is.
#   quiet                 kernel messages below KERN_WARNING stay in dmesg
#                         (the /init greps them out); the console is a
#                         polled 8250, and in Bochs every printed line costs.
#   mitigations=off       no retpoline/IBRS/... overhead in emulators; the
#                         guest runs nothing untrusted.
# KASLR stays on: the hypervisor hides its memory through E820, and the
# randomised kernel has to cope with that, as on real machines.
KERNEL_ARGS = "console=ttyS0,115200 quiet mitigations=off printk.devkmsg=on"

# GRUB modules for the disk (grub-mkrescue adds dependencies). `linux` loads
# the bzImage and the initrd; the rest mirrors hvtools.image's defaults.
GRUB_MODULES = (
    "normal", "serial", "terminal", "echo", "halt", "reboot", "sleep", "test",
    "linux", "gzio", "iso9660", "biosdisk", "part_msdos", "part_gpt",
)

# Fallback applet links if the host cannot run busybox --list-full.
_FALLBACK_APPLETS = (
    "bin/sh", "bin/mount", "bin/cat", "bin/echo", "bin/grep", "bin/sed",
    "bin/sleep", "bin/uname", "bin/dmesg", "bin/sync", "bin/ls", "bin/tr",
    "sbin/poweroff", "sbin/reboot", "sbin/halt",
)


class LinuxGuestError(RuntimeError):
    pass


# ---- newc cpio ----------------------------------------------------------------
class Cpio:
    """A newc ("070701") archive, as the kernel's initramfs unpacker reads it.
    Every entry is owned by root with mtime 0, so the bytes depend only on
    the contents."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1
        self.names = set()

    @staticmethod
    def _pad(n):
        return b"\0" * (-n % 4)

    def _entry(self, name, mode, data=b"", rdev=(0, 0), nlink=1):
        name = name.strip("/") or "."
        if name in self.names:
            raise LinuxGuestError(f"cpio: duplicate entry {name}")
        self.names.add(name)
        nb = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0,
                  rdev[0], rdev[1], len(nb), 0)
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
        self.ino += 1
        self.buf.write(hdr + nb + self._pad(len(hdr) + len(nb)))
        self.buf.write(data + self._pad(len(data)))

    def dir(self, name, perm=0o755):
        self._entry(name, stat.S_IFDIR | perm, nlink=2)

    def file(self, name, data, perm=0o644):
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, perm=0o600):
        self._entry(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def finish(self):
        self.ino = 0
        self._entry("TRAILER!!!", 0, nlink=1)
        return self.buf.getvalue()


def busybox_applets(busybox=BUSYBOX):
    """Install paths of busybox's applets ("bin/sh", "sbin/poweroff", ...)."""
    try:
        out = subprocess.run([busybox, "--list-full"], capture_output=True,
                             text=True, timeout=10, check=True).stdout
        paths = sorted({p.strip().strip("/") for p in out.split() if p.strip()})
    except (OSError, subprocess.SubprocessError):
        paths = []
    return paths or list(_FALLBACK_APPLETS)


def make_initramfs(out=INITRD, busybox=BUSYBOX, init=INIT_SCRIPT):
    """Write the gzipped newc initramfs; returns its path. Reproducible."""
    if not os.path.isfile(busybox):
        raise LinuxGuestError(f"{busybox} missing: run `make linux-guest` (fetch)")
    c = Cpio()
    dirs = {"bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys",
            "tmp", "root", "etc", "run"}
    applets = [a for a in busybox_applets(busybox) if a != "bin/busybox"]
    for a in applets:
        d = os.path.dirname(a)
        while d:
            dirs.add(d)
            d = os.path.dirname(d)
    c.dir(".")
    for d in sorted(dirs):
        c.dir(d, 0o1777 if d == "tmp" else 0o755)
    # The kernel opens /dev/console for init's stdio before devtmpfs exists.
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3, 0o666)
    with open(busybox, "rb") as f:
        c.file("bin/busybox", f.read(), 0o755)
    for a in applets:
        rel = os.path.relpath("bin/busybox", os.path.dirname(a))
        c.symlink(a, rel)
    with open(init, "rb") as f:
        c.file("init", f.read(), 0o755)
    for path in PAL_DEMO:
        if os.path.isfile(path):
            with open(path, "rb") as f:
                c.file("bin/" + os.path.basename(path), f.read(), 0o755)
    data = c.finish()
    tmp = f"{out}.tmp{os.getpid()}"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9,
                           mtime=0) as gz:
            gz.write(data)
    os.replace(tmp, out)
    return out


# ---- build steps ---------------------------------------------------------------
def fetch():
    """Download (if not cached) and extract vmlinuz and busybox."""
    proc = subprocess.run(["sh", FETCH_SH, DEBS_DIR, OUT_DIR])
    if proc.returncode != 0 or not os.path.isfile(VMLINUZ):
        raise LinuxGuestError(f"fetch.sh failed ({proc.returncode})")


def _stale(target, *sources):
    if not os.path.exists(target):
        return True
    t = os.stat(target).st_mtime
    return any(os.path.exists(s) and os.stat(s).st_mtime > t for s in sources)


def ensure_artifacts():
    """Make build/linux-guest/{vmlinuz,initrd.gz} if missing or stale: through
    make (mk/linux-guest.mk) when available, else directly."""
    if not _stale(VMLINUZ, FETCH_SH) and not _stale(INITRD, VMLINUZ, BUSYBOX,
                                                    INIT_SCRIPT, __file__, *PAL_DEMO) \
            and all(os.path.isfile(p) for p in PAL_DEMO):
        return VMLINUZ, INITRD
    if os.path.isfile(MK_FILE):
        proc = subprocess.run(["make", "-s", "-C", ROOT, "-f", MK_FILE, "linux-guest"])
        if proc.returncode != 0:
            raise LinuxGuestError(f"make -f {MK_FILE} linux-guest failed")
    else:
        if _stale(VMLINUZ, FETCH_SH):
            fetch()
        make_initramfs()
    for p in (VMLINUZ, INITRD):
        if not os.path.isfile(p):
            raise LinuxGuestError(f"{p} was not made")
    return VMLINUZ, INITRD


def grub_cfg(extra_args="", base_args=KERNEL_ARGS):
    """grub.cfg text: serial terminal, no menu, Linux with initrd. The echo
    lines mark GRUB's progress on the serial line (loading ~8 MB through the
    BIOS takes a while in Bochs)."""
    args = " ".join(a for a in (base_args.strip(), extra_args.strip()) if a)
    for ch in "\n;'\"\\$":
        if ch in args:
            raise ValueError(f"kernel args must not contain {ch!r}: {args!r}")
    lines = [image.SERIAL_HEAD.rstrip("\n"),
             "set timeout=0",
             "set pager=0",
             "echo 'linux-guest: loading /vmlinuz'",
             f"linux /vmlinuz {args}",
             "echo 'linux-guest: loading /initrd.gz'",
             "initrd /initrd.gz",
             "echo 'linux-guest: booting Linux'",
             "boot",
             "echo 'linux-guest: GRUB could not boot Linux'",
             "halt"]
    return "\n".join(lines) + "\n"


def build_linux_disk(extra_args="", out=None, base_args=KERNEL_ARGS):
    """The guest boot disk (a hybrid GRUB image: attach it as a flat hard disk
    or as a CD). extra_args are appended to the kernel command line, e.g.
    "nox2apic hvtest=sysrq-l:20". Returns the path (the content-named cached
    image under build/images/ unless out is given)."""
    vmlinuz, initrd = ensure_artifacts()
    return image.build_grub_image(
        grub_cfg(extra_args, base_args),
        [(vmlinuz, "vmlinuz"), (initrd, "initrd.gz")],
        out=out, install_modules=GRUB_MODULES, name="linux-guest", suffix=".img")


def guest_disk(emu, path):
    """The disk argument for hvtools.emu.Machine. Bochs locks a flat image it
    opens read-write (path.lock), so two runs could not share the cached
    image; `volatile` mode opens it read-only and keeps any writes in a
    private redolog, so parallel runs (pytest -n 2) share one image."""
    from hvtools.emu import Disk
    return Disk(path, mode="volatile") if emu == "bochs" else path


def packages():
    """{'kernel': (name, version), 'busybox': (...), 'release': str}"""
    info = {}
    try:
        with open(PACKAGES) as f:
            for line in f:
                parts = line.split()
                if parts and parts[0] in ("kernel", "busybox") and len(parts) >= 3:
                    info[parts[0]] = (parts[1], parts[2])
                elif parts and parts[0] == "release" and len(parts) >= 2:
                    info["release"] = parts[1]
    except FileNotFoundError:
        pass
    return info


# ---- booting (measurements, manual runs) ---------------------------------------
MILESTONES = (
    ("grub", r"linux-guest: loading /vmlinuz"),
    ("initrd", r"linux-guest: loading /initrd\.gz"),
    ("boot", r"linux-guest: booting Linux"),
    ("up", UP_RE),
    ("done", DONE),
)


def boot(emu="qemu", cpus=2, extra_args="", base_args=KERNEL_ARGS, timeout=600,
         model="corei7_skylake_x", memory=256, ips=None, extra_config=(),
         verbose=True, name=None):
    """Boot the disk bare. Returns ({milestone: host seconds since start},
    serial text). verbose: True prints milestones, "lines" every serial line
    with its arrival time (stderr)."""
    from hvtools.emu import Machine, DEFAULT_IPS
    disk = guest_disk(emu, build_linux_disk(extra_args, base_args=base_args))
    kw = dict(emu=emu, disks=[disk], cpus=cpus, memory=memory, timeout=timeout + 30,
              extra_config=extra_config, name=name or f"linux-{emu}{cpus}")
    if emu == "bochs":
        kw.update(model=model, ips=ips or DEFAULT_IPS)
    else:
        kw.update(kvm=False)
    times, lines = {}, []
    todo = [(k, re.compile(rx)) for k, rx in MILESTONES]
    with Machine(**kw) as m:
        pos, partial = 0, b""
        while todo:
            if m.elapsed() > timeout:
                raise LinuxGuestError(m.describe(f"no {todo[0][0]!r} after {timeout}s"))
            data = m.read_since(pos, timeout=0.5)
            if not data:
                if not m.alive:
                    raise LinuxGuestError(m.describe(f"{emu} exited before {todo[0][0]!r}"))
                continue
            pos += len(data)
            now = m.elapsed()
            partial += data
            *done_lines, partial = partial.split(b"\n")
            for raw in done_lines + ([partial] if partial.endswith(b"\n") else []):
                line = raw.decode("utf-8", "replace").rstrip("\r")
                lines.append((now, line))
                if verbose == "lines":
                    print(f"{now:7.1f} {line}", file=sys.stderr, flush=True)
                while todo and todo[0][1].search(line):
                    times[todo.pop(0)[0]] = now
                    if verbose is True:
                        print(f"  {list(times)[-1]:7s} {now:7.1f}s", file=sys.stderr, flush=True)
        try:
            m.wait_exit(timeout=20)
            times["exit"] = m.elapsed()
        except Exception:
            pass
        text = m.text
    return times, text


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fetch", help="download/extract vmlinuz and busybox")
    p = sub.add_parser("initramfs", help="build initrd.gz")
    p.add_argument("-o", "--out", default=INITRD)
    sub.add_parser("artifacts", help="vmlinuz + initrd.gz (fetch if needed)")
    p = sub.add_parser("disk", help="build the boot disk, print its path")
    p.add_argument("--args", default="", help="extra kernel args")
    p.add_argument("--base-args", default=KERNEL_ARGS)
    p.add_argument("-o", "--out")
    p = sub.add_parser("boot", help="boot the disk bare, print milestone times")
    p.add_argument("--emu", choices=("qemu", "bochs"), default="qemu")
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--args", default="")
    p.add_argument("--base-args", default=KERNEL_ARGS)
    p.add_argument("--model", default="corei7_skylake_x")
    p.add_argument("--memory", type=int, default=256)
    p.add_argument("--ips", type=int)
    p.add_argument("--bochs-config", action="append", default=[],
                   help="extra bochsrc line (repeatable)")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--show", action="store_true", help="print the serial output")
    p.add_argument("--lines", action="store_true",
                   help="print each serial line with its arrival time")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "fetch":
            fetch()
        elif a.cmd == "initramfs":
            print(make_initramfs(a.out))
        elif a.cmd == "artifacts":
            for p in ensure_artifacts():
                print(p)
        elif a.cmd == "disk":
            print(build_linux_disk(a.args, a.out, a.base_args))
        elif a.cmd == "boot":
            t0 = time.monotonic()
            times, text = boot(a.emu, a.cpus, a.args, a.base_args, a.timeout,
                               a.model, a.memory, a.ips, a.bochs_config,
                               verbose="lines" if a.lines else True)
            if a.show:
                sys.stdout.write(text)
            up = re.search(UP_RE, text)
            print(f"{a.emu} cpus={a.cpus}: " +
                  " ".join(f"{k}={v:.1f}s" for k, v in times.items()) +
                  (f" guest_cpus={up.group(1)}" if up else "") +
                  f" (total {time.monotonic() - t0:.1f}s)")
    except (LinuxGuestError, image.ImageError) as e:
        print(f"linux_guest.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
