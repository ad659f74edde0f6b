#!/usr/bin/python3
"""GRUB boot images for the hypervisor (and for anything else GRUB can boot).

Two layers:

* ``build_grub_image(grub_cfg, files, out=None)`` -- any BIOS (i386-pc) GRUB
  image made by grub-mkrescue from a grub.cfg text plus files to place in it.
  The result is a hybrid image: boot it as a CD, or attach it as a flat hard
  disk (Bochs ``type=disk, mode=flat``; QEMU ``-drive format=raw``), which is
  how guest boot disks are made.
* ``build_iso(elf, cmdline, out=None, modules=(), extra_files=())`` -- the
  hypervisor image: GRUB on the serial line, ``multiboot2 /boot/hv.elf
  <cmdline>``, optional ``module2`` lines, ``boot``.

Images are cached under build/images/, named by a hash of everything that
goes into them, so tests that boot the same configuration many times build it
once. Concurrent builders (pytest-xdist) are safe: each builds into a private
temporary file and renames it into place.

Command line (used by the Makefile):

    image.py --elf build/hv.elf --cmdline "serial=..." -o build/hv.iso \
             [--module PATH[=ARGS] ...] [--file SRC=DEST ...]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE_DIR = os.path.join(ROOT, "build", "images")
CACHE_KEEP = 64            # most recently used cached images kept
FORMAT_VERSION = "1"       # bump when the generated grub.cfg changes shape

# GRUB modules put into the image by default. grub-mkrescue adds their
# dependencies (multiboot2 pulls in relocator, mmap, ...). Keeping the set
# small makes the image ~0.9 MB instead of ~9.5 MB, builds in 0.2 s instead of
# 2.5 s and is read faster by the emulated BIOS. Pass install_modules=None for
# GRUB's full set (e.g. a guest disk that boots Linux needs `linux`, `gzio`).
DEFAULT_MODULES = (
    "normal", "serial", "terminal", "echo", "halt", "reboot", "sleep", "test",
    "multiboot2", "multiboot", "iso9660", "biosdisk", "part_msdos", "part_gpt",
    "iorw",
)

SERIAL_HEAD = """\
serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1
terminal_input serial console
terminal_output serial console
"""


class ImageError(RuntimeError):
    pass


class Module:
    """One multiboot2 module: a host file copied into the image, or a GRUB
    device path used verbatim (anything starting with '(' , e.g. '(hd0)+1')."""

    def __init__(self, src: str | os.PathLike, args: str = "", nounzip: bool = False) -> None:
        self.src, self.args, self.nounzip = src, args, nounzip

    @classmethod
    def coerce(cls, m: ModuleLike) -> Module:
        if isinstance(m, Module):
            return m
        if isinstance(m, (tuple, list)):
            return cls(*m)
        return cls(m)

    @property
    def is_device(self) -> bool:
        return str(self.src).startswith("(")

    def __repr__(self) -> str:
        return f"Module({self.src!r}, {self.args!r}, nounzip={self.nounzip})"


# A module as build_iso takes it: a Module, a path, or (path, args[, nounzip]).
ModuleLike = Module | str | os.PathLike | tuple | list


def _hash_file(h, path):
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)


def _grub_quote(s):
    """Quote a word for grub.cfg (single quotes, like sh)."""
    return "'" + s.replace("'", "'\\''") + "'"


def _prune(cache_dir, keep):
    try:
        imgs = [os.path.join(cache_dir, n) for n in os.listdir(cache_dir)
                if n.endswith((".img", ".iso", ".boot"))]
    except FileNotFoundError:
        return
    imgs.sort(key=lambda p: os.stat(p).st_mtime if os.path.exists(p) else 0,
              reverse=True)
    for p in imgs[keep:]:
        try:
            os.unlink(p)
        except OSError:
            pass


def build_grub_image(grub_cfg: str, files: Iterable[tuple[str, str]] = (),
                     out: str | None = None, install_modules: Iterable[str] | None = DEFAULT_MODULES,
                     name: str = "grub", cache_dir: str | None = None,
                     suffix: str = ".iso") -> str:
    """Build (or reuse from the cache) a GRUB image.

    grub_cfg: text of /boot/grub/grub.cfg.
    files: iterable of (host_src, dest_path_in_image) pairs, dest relative to
        the image root (e.g. "boot/hv.elf").
    out: if given, the image is also copied there (atomically); otherwise the
        cached path is returned.
    install_modules: GRUB module names, or None for all.
    Returns the path of the image.
    """
    cache_dir = cache_dir or CACHE_DIR
    files = [(os.fspath(s), d.lstrip("/")) for s, d in files]
    h = hashlib.sha256()
    h.update(FORMAT_VERSION.encode() + b"\0" + grub_cfg.encode() + b"\0")
    h.update(repr(None if install_modules is None else sorted(install_modules)).encode())
    for src, dest in sorted(files, key=lambda f: f[1]):
        if not os.path.isfile(src):
            raise ImageError(f"image file missing: {src}")
        h.update(b"\0F" + dest.encode() + b"\0")
        _hash_file(h, src)
    key = h.hexdigest()[:20]
    os.makedirs(cache_dir, exist_ok=True)
    cached = os.path.join(cache_dir, f"{name}-{key}{suffix}")

    if os.path.exists(cached):
        os.utime(cached)               # mark recently used for pruning
    else:
        with tempfile.TemporaryDirectory(prefix="img-", dir=cache_dir) as tmp:
            tree = os.path.join(tmp, "tree")
            os.makedirs(os.path.join(tree, "boot", "grub"))
            with open(os.path.join(tree, "boot", "grub", "grub.cfg"), "w") as f:
                f.write(grub_cfg)
            for src, dest in files:
                d = os.path.join(tree, dest)
                os.makedirs(os.path.dirname(d), exist_ok=True)
                shutil.copyfile(src, d)
            partial = os.path.join(tmp, "out" + suffix)
            cmd = ["grub-mkrescue", "-d", "/usr/lib/grub/i386-pc", "-o", partial,
                   "--locales=", "--fonts=", "--themes="]
            if install_modules is not None:
                cmd.append("--install-modules=" + " ".join(install_modules))
            cmd.append(tree)
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0 or not os.path.exists(partial):
                raise ImageError(f"grub-mkrescue failed ({proc.returncode}):\n"
                                 f"{' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
            os.replace(partial, cached)
        _prune(cache_dir, CACHE_KEEP)

    if out is None:
        return cached
    out = os.fspath(out)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp_out = f"{out}.tmp{os.getpid()}"
    shutil.copyfile(cached, tmp_out)
    os.replace(tmp_out, out)
    return out


def hv_grub_cfg(cmdline: str = "", modules: Iterable[ModuleLike] = (),
                on_fail: str = "halt") -> str:
    """grub.cfg text for the hypervisor image: quiet, no menu, serial terminal.

    If loading fails, GRUB prints its error on the serial line and then
    halts (on_fail="halt"; the emulator exits, tests see the error at once)
    or drops to its prompt (on_fail="prompt").
    """
    lines = [SERIAL_HEAD.rstrip("\n"), "set timeout=0", "set pager=0",
             "multiboot2 /boot/hv.elf " + cmdline if cmdline else "multiboot2 /boot/hv.elf"]
    for i, m in enumerate(modules):
        m = Module.coerce(m)
        path = m.src if m.is_device else f"/boot/mod{i}-{os.path.basename(m.src)}"
        opt = "--nounzip " if m.nounzip else ""
        lines.append(f"module2 {opt}{path} {m.args}".rstrip())
    lines.append("boot")
    lines.append("echo 'hvimage: GRUB could not boot the hypervisor'")
    if on_fail == "halt":
        lines.append("halt")
    return "\n".join(lines) + "\n"


def boot_copy(elf: str, cache_dir: str | None = None) -> str:
    """The hypervisor ELF as GRUB loads it: without its debug sections.
    GRUB's multiboot2 loader reads every non-allocated section into memory
    too (for the ELF-sections tag, which the hypervisor does not use), so
    the ~1 MB of DWARF cost each boot a read from the emulated CD. The
    loaded segments and symbols are the same: gdb and hvlog use the
    unstripped build/hv.elf. Cached by the ELF's content."""
    cache_dir = cache_dir or CACHE_DIR
    h = hashlib.sha256()
    _hash_file(h, elf)
    path = os.path.join(cache_dir, f"{os.path.basename(elf)}-{h.hexdigest()[:20]}.boot")
    if not os.path.exists(path):
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        proc = subprocess.run(["objcopy", "--strip-debug", elf, tmp], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise ImageError(f"objcopy --strip-debug {elf} failed:\n{proc.stderr}")
        os.replace(tmp, path)
    else:
        os.utime(path)                 # recently used: not pruned
    return path


def build_iso(elf: str, cmdline: str = "", out: str | None = None,
              modules: Iterable[ModuleLike] = (), extra_files: Iterable[tuple[str, str]] = (),
              install_modules: Iterable[str] | None = DEFAULT_MODULES, on_fail: str = "halt",
              cache_dir: str | None = None) -> str:
    """The hypervisor's boot image: `multiboot2 /boot/hv.elf <cmdline>`.

    modules: paths, (path, args[, nounzip]) tuples or Module objects; host
        files are copied to /boot/mod<i>-<name>, GRUB device paths such as
        "(hd0)+1" are used as they are.
    extra_files: (host_src, dest_in_image) pairs, for anything else.
    Returns the image path (the cached one unless out is given).
    """
    mods = [Module.coerce(m) for m in modules]
    files = [(boot_copy(elf, cache_dir), "boot/hv.elf")]
    for i, m in enumerate(mods):
        if not m.is_device:
            files.append((m.src, f"boot/mod{i}-{os.path.basename(m.src)}"))
    files.extend(extra_files)
    cfg = hv_grub_cfg(cmdline, mods, on_fail)
    return build_grub_image(cfg, files, out=out, install_modules=install_modules,
                            name="hv", cache_dir=cache_dir)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Build a GRUB image for the hypervisor.")
    ap.add_argument("--elf", required=True)
    ap.add_argument("--cmdline", default="")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--module", action="append", default=[],
                    help="PATH or PATH=ARGS (or a GRUB device path like '(hd0)+1')")
    ap.add_argument("--nounzip", action="store_true",
                    help="load all --module files with --nounzip")
    ap.add_argument("--file", action="append", default=[], help="SRC=DEST_IN_IMAGE")
    ap.add_argument("--all-grub-modules", action="store_true")
    a = ap.parse_args(argv)
    mods = []
    for spec in a.module:
        path, _, args = spec.partition("=")
        mods.append(Module(path, args, a.nounzip))
    extra = [tuple(f.split("=", 1)) for f in a.file]
    try:
        out = build_iso(a.elf, a.cmdline, a.out, mods, extra,
                        install_modules=None if a.all_grub_modules else DEFAULT_MODULES)
    except ImageError as e:
        print(f"image.py: {e}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
