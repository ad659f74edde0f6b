"""gdb-Python: a Linux guest's kernel frames, named and unwound, with no
debug package (loaded by gdb/hv.gdb; `hv-linux`).

Debian ships neither a System.map nor DWARF outside its ~1 GB -dbg package,
and its kernel has no frame pointers. The image it boots has both what gdb
needs: the kernel's own symbol table (kallsyms) and its ORC unwind tables.
`hv-linux [VMLINUZ [SLIDE]]` reads them on the host (hvtools.kernel), loads
the code symbols as a symbol file moved by the KASLR slide, and registers an
unwinder that steps frames the way the kernel's own ORC unwinder does.

The slide, unless given: the guest's IDT (its base from `monitor vmcs`,
read in the guest view) points vector 0 at asm_exc_divide_error and
vector 14 at asm_exc_page_fault; both must agree, so a wrong image is an
error, not a wrong backtrace. Needs the guest view (`hv-guest` first).
"""
import os
import re
import struct
import sys
import tempfile

import gdb
from gdb.unwinder import Unwinder, register_unwinder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(ROOT, "host-tools") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "host-tools"))
from hvtools.kernel import bzimage, kallsyms, orc, symelf, vmlinux  # noqa: E402

DEFAULT_IMAGE = os.path.join(ROOT, "build", "linux-guest", "vmlinuz")
MASK = (1 << 64) - 1


class Kernel:
    """One image: its code symbols and ORC table, at link addresses."""

    def __init__(self, path):
        vm = vmlinux.load(path)
        self.path = path
        self.symbols = kallsyms.read_kallsyms(vm)
        self.by_name = {n: a for a, _, n in self.symbols}
        self.orc = orc.OrcTable(vm)
        self.slide = 0


_kernel = None


def read_u64(addr):
    return struct.unpack("<Q", bytes(gdb.selected_inferior().read_memory(addr & MASK, 8)))[0]


def idt_handler(idt_base, vector):
    """An IDT gate's 64-bit offset (SDM Vol. 3A, 6.14.1)."""
    lo, hi = read_u64(idt_base + 16 * vector), read_u64(idt_base + 16 * vector + 8)
    return (lo & 0xffff) | (lo >> 48 & 0xffff) << 16 | (hi & 0xffffffff) << 32


def slide_from_idt(k):
    text = gdb.execute("monitor vmcs", to_string=True)
    m = re.search(r"GUEST_IDTR_BASE\s+(0x[0-9a-fA-F]+)", text)
    if not m:
        raise gdb.GdbError("hv-linux: no GUEST_IDTR_BASE in `monitor vmcs` (is this CPU in a guest?)")
    base = int(m.group(1), 16)
    try:
        slides = {idt_handler(base, v) - k.by_name[name]
                  for v, name in ((0, "asm_exc_divide_error"), (14, "asm_exc_page_fault"))}
    except gdb.MemoryError as e:
        raise gdb.GdbError(f"hv-linux: cannot read the guest's IDT at {base:#x} ({e}); "
                           "switch to the guest view first (hv-guest)") from None
    if len(slides) != 1:
        raise gdb.GdbError("hv-linux: the guest's IDT does not match this image "
                           f"({k.path}): vectors 0 and 14 give different slides")
    slide = slides.pop() & MASK
    if slide & 0xfff:
        raise gdb.GdbError(f"hv-linux: slide {slide:#x} is not page-aligned: not this image")
    return slide


class _FrameId:
    """gdb 13 wants gdb.Values here (gdb 14 has gdb.unwinder.FrameId)."""

    def __init__(self, sp, pc):
        self.sp, self.pc = sp, pc


class OrcUnwinder(Unwinder):
    """Kernel frames by ORC. Frame 0 and frames the unwinder found in a
    pt_regs/iret frame were interrupted, so their own rip is looked up; any
    other frame's rip is a return address, looked up at rip - 1 (it may be
    the first byte of the next function), as unwind_orc.c does."""

    def __init__(self):
        super().__init__("linux-orc")
        self.interrupted = set()

    def __call__(self, pending):
        k = _kernel
        if k is None:
            return None
        regs = {r: int(pending.read_register(r)) & MASK for r in ("rip", "rsp", "rbp")}
        link = (regs["rip"] - k.slide) & MASK
        if not k.orc.covers(link):
            return None
        exact = pending.level() == 0 or (regs["rip"], regs["rsp"]) in self.interrupted
        entry = k.orc.find(link if exact else link - 1)
        if entry is None:
            return None
        try:
            got = orc.step(entry, regs, read_u64)
        except (orc.UnwindError, gdb.MemoryError):
            return None
        info = pending.create_unwind_info(_FrameId(pending.read_register("rsp"),
                                                   pending.read_register("rip")))
        if got is None:             # the end of the kernel stack: no caller
            for name, value in (("rip", 0), ("rsp", regs["rsp"]), ("rbp", regs["rbp"])):
                info.add_saved_register(name, gdb.Value(value).cast(pending.read_register(name).type))
            return info
        caller, interrupted = got
        if interrupted:
            self.interrupted.add((caller["rip"], caller["rsp"]))
        for name, value in caller.items():
            if name in ("orig_rax", "cs", "ss", "eflags"):
                continue
            reg = pending.read_register(name)
            info.add_saved_register(name, gdb.Value(value & MASK).cast(reg.type))
        return info


_unwinder = OrcUnwinder()


class LinuxCommand(gdb.Command):
    """hv-linux [VMLINUZ [SLIDE]]: name and unwind the Linux guest's kernel
    frames from its boot image (default build/linux-guest/vmlinuz): the
    kernel's kallsyms as a symbol file at the KASLR slide, and its ORC
    tables as an unwinder. SLIDE (run address - link address) is read from
    the guest's IDT unless given; that needs the guest view (hv-guest)."""

    def __init__(self):
        super().__init__("hv-linux", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        global _kernel
        args = gdb.string_to_argv(arg)
        path = args[0] if args else DEFAULT_IMAGE
        try:
            k = Kernel(path)
        except (OSError, ValueError, KeyError, bzimage.ImageError, kallsyms.KallsymsError) as e:
            raise gdb.GdbError(f"hv-linux: {path}: {e}") from None
        k.slide = int(args[1], 0) & MASK if len(args) > 1 else slide_from_idt(k)
        text = kallsyms.text_symbols(k.symbols)
        fd, elf = tempfile.mkstemp(prefix="hv-linux-", suffix=".elf")
        os.close(fd)
        symelf.write_symbol_elf(elf, text)
        gdb.execute(f"add-symbol-file {elf} -o {k.slide:#x}", to_string=True)
        _kernel = k
        _unwinder.interrupted.clear()
        gdb.invalidate_cached_frames()
        print(f"hv-linux: {len(text)} code symbols and {len(k.orc.ips)} ORC entries from "
              f"{os.path.basename(path)}, KASLR slide {k.slide:#x}")


def setup():
    register_unwinder(None, _unwinder, replace=True)
    LinuxCommand()
