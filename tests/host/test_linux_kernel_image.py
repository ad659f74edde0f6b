"""hvtools.kernel and gdb/hvlinux.py against Debian's real kernel image
(the Linux guest's vmlinuz), without an emulator:

- the vmlinux comes out of the bzImage, kallsyms decodes (names the
  kernel's own /proc/kallsyms would list, in address order) and the ORC
  table reads as 6.1's layout;
- stock gdb, with `hv-linux IMAGE SLIDE`, backtraces a synthetic kernel
  stack in an ELF core file: registers and stack built from the image's
  own ORC entries for a timer interrupt taken in the idle loop
  (__sysvec_apic_timer_interrupt ... asm_sysvec_apic_timer_interrupt, its
  pt_regs, then mwait_idle_with_hints <- intel_idle <- ... <- do_idle <-
  ... <- secondary_startup_64), at a KASLR slide. gdb must name every
  frame, cross the interrupt frame and stop at the end of the stack."""
import os
import re
import shutil
import struct
import subprocess
import sys

import pytest

from testpaths import ROOT

sys.path.insert(0, os.path.join(ROOT, "host-tools"))
sys.path.insert(0, os.path.join(ROOT, "guest", "linux"))
from hvtools.kernel import kallsyms, orc, vmlinux  # noqa: E402
import linux_guest  # noqa: E402

GDB = shutil.which("gdb")
SLIDE = 0x7a00000
STACK = 0xffffc90000100000          # where the synthetic stack lives (vmalloc area)
STACK_LEN = 0x4000


@pytest.fixture(scope="module")
def kernel():
    linux_guest.ensure_artifacts()
    vm = vmlinux.load(os.path.join(ROOT, "build", "linux-guest", "vmlinuz"))
    syms = kallsyms.read_kallsyms(vm)
    return vm, syms, {n: a for a, _, n in syms}, orc.OrcTable(vm)


def test_kallsyms_decodes_in_address_order(kernel):
    _, syms, by_name, _ = kernel
    assert len(syms) > 50000
    relative = [a for a, t, _ in syms if t not in "Aa"]
    assert relative == sorted(relative)
    assert by_name["_text"] == 0xffffffff81000000
    assert by_name["secondary_startup_64"] - by_name["_text"] == 0x70
    for name in ("do_idle", "start_kernel", "asm_exc_page_fault", "cpuidle_enter_state"):
        assert by_name[name] > by_name["_text"]
    text = kallsyms.text_symbols(syms)
    assert all(a < b for (a, _), (b, _) in zip(text, text[1:]))


def test_orc_entries_read_as_linux_6_1(kernel):
    _, _, by_name, table = kernel
    # A function's first instruction: the CFA is RSP + 8 (the return address).
    entry = table.find(by_name["do_idle"])
    assert (entry.type, entry.sp_reg, entry.sp_offset) == (orc.TYPE_CALL, orc.REG_SP, 8)
    assert table.find(by_name["secondary_startup_64"]).end       # where every AP's stack ends
    assert table.find(by_name["asm_sysvec_apic_timer_interrupt"]).type == orc.TYPE_REGS_PARTIAL
    assert table.find(0x1000) is None


def _size(by_addr, addr):
    i = by_addr.index(addr)
    return by_addr[i + 1] - addr


def _ip_where(table, start, end, want):
    """An address in [start, end) whose entry (looked up at ip - 1 when it
    is a return address) satisfies want."""
    for ip in range(start + 1, end):
        e = table.find(ip - 1)
        if want(e):
            return ip
    raise AssertionError(f"no suitable ORC entry in {start:#x}..{end:#x}")


def build_stack(kernel):
    """Frames (name, run-time rip) innermost first, the registers of frame 0
    and the stack bytes, laid out by the image's ORC entries: a timer
    interrupt taken in the idle loop, its handler's frames above the
    pt_regs that the entry code saved."""
    _, syms, by_name, table = kernel
    starts = sorted({a for a, _ in kallsyms.text_symbols(syms)})
    chain = ["__sysvec_apic_timer_interrupt", "sysvec_apic_timer_interrupt",
             "asm_sysvec_apic_timer_interrupt", "mwait_idle_with_hints.constprop.0", "intel_idle",
             "cpuidle_enter_state", "cpuidle_enter", "do_idle", "cpu_startup_entry",
             "start_secondary", "secondary_startup_64"]
    call_sp = (lambda e: e.type == orc.TYPE_CALL and e.sp_reg == orc.REG_SP and not e.end
               and e.bp_reg in (orc.REG_UNDEFINED, orc.REG_PREV_SP))
    want = {"asm_sysvec_apic_timer_interrupt": lambda e: e.type == orc.TYPE_REGS and e.sp_reg == orc.REG_SP,
            "secondary_startup_64": lambda e: e.end}
    mem = bytearray(STACK_LEN)
    rbp = 0x5a5a5a5a5a5a5a5a
    sp = STACK + 0x100
    name = chain[0]
    rip = _ip_where(table, by_name[name], by_name[name] + _size(starts, by_name[name]), call_sp) - 1
    exact = True                        # frame 0 was interrupted where it is
    regs0 = {"rip": rip + SLIDE, "rsp": sp, "rbp": rbp}
    frames = []
    for i, name in enumerate(chain):
        frames.append((name, rip + SLIDE))
        entry = table.find(rip if exact else rip - 1)
        if entry.end:
            break
        assert entry.sp_reg == orc.REG_SP, (name, entry)
        cfa = sp + entry.sp_offset
        nxt = chain[i + 1]
        lo = by_name[nxt]
        hi = lo + _size(starts, lo)
        if entry.type == orc.TYPE_CALL:
            ret = _ip_where(table, lo, hi, want.get(nxt, call_sp))
            struct.pack_into("<Q", mem, cfa - 8 - STACK, ret + SLIDE)
            if entry.bp_reg == orc.REG_PREV_SP:
                struct.pack_into("<Q", mem, cfa + entry.bp_offset - STACK, rbp)
            rip, exact, sp = ret, False, cfa
        elif entry.type == orc.TYPE_REGS:
            # pt_regs at the CFA: the interrupted instruction and its stack.
            intr = _ip_where(table, lo + 0x10, hi, call_sp) - 1     # not its first byte:
            # gdb names a caller's frame by pc - 1, which is right for a
            # return address and, at a function's first byte, names the
            # function before it; gdb 13's Python unwinders cannot say
            # "interrupted here" (a SIGTRAMP_FRAME) to make it use pc
            intr_sp = cfa + 0x200
            vals = {"rip": intr + SLIDE, "rsp": intr_sp, "rbp": rbp, "cs": 0x10, "ss": 0x18,
                    "eflags": 0x246}
            for j, r in enumerate(orc.PT_REGS):
                struct.pack_into("<Q", mem, cfa + 8 * j - STACK, vals.get(r, 0))
            rip, exact, sp = intr, True, intr_sp
        else:
            raise AssertionError(f"{name}: unexpected ORC type {entry.type}")
    assert [n for n, _ in frames] == chain
    return frames, regs0, bytes(mem)


def write_core(path, regs, mem):
    """An x86-64 Linux ELF core: one NT_PRSTATUS (struct elf_prstatus,
    registers at offset 112 in user_regs_struct order) and one PT_LOAD."""
    order = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
             "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base",
             "gs_base", "ds", "es", "fs", "gs")
    vals = dict(regs, cs=0x10, ss=0x18, eflags=0x46)
    prstatus = bytearray(336)
    struct.pack_into("<27Q", prstatus, 112, *(vals.get(r, 0) for r in order))
    note = struct.pack("<III", 5, len(prstatus), 1) + b"CORE\0\0\0\0" + prstatus
    phoff, nph = 64, 2
    note_off = phoff + 56 * nph
    load_off = (note_off + len(note) + 0xfff) & ~0xfff
    eh = struct.pack("<4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, 4, 62, 1, 0,
                     phoff, 0, 0, 64, 56, nph, 64, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(note), len(note), 4)
    ph += struct.pack("<IIQQQQQQ", 1, 6, load_off, STACK, 0, len(mem), len(mem), 0x1000)
    with open(path, "wb") as f:
        f.write(eh + ph + note + bytes(load_off - note_off - len(note)) + mem)


@pytest.mark.skipif(GDB is None, reason="gdb not installed (apt-get install gdb)")
def test_gdb_backtraces_an_idle_cpu_by_orc(kernel, tmp_path):
    frames, regs, mem = build_stack(kernel)
    core = tmp_path / "idle.core"
    write_core(str(core), regs, mem)
    image = os.path.join(ROOT, "build", "linux-guest", "vmlinuz")
    out = subprocess.run(
        [GDB, "-batch", "-nx", "-ex", "set architecture i386:x86-64",
         "-ex", f"core-file {core}",
         "-ex", f"python import sys; sys.path.insert(0, '{ROOT}/gdb'); import hvlinux; hvlinux.setup()",
         "-ex", f"hv-linux {image} {SLIDE:#x}", "-ex", "bt 20"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120).stdout
    assert f"KASLR slide {SLIDE:#x}" in out, out
    bt = [line for line in out.split("hv-linux:", 1)[1].splitlines() if line.startswith("#")]
    # gdb drops a compiler clone's numeric suffix (.constprop.0 -> .constprop).
    want = [re.sub(r"\.\d+$", "", name) for name, _ in frames]
    got = [re.search(r" in (\S+) \(", line).group(1) if " in " in line else "?" for line in bt]
    # Then the end of the stack: secondary_startup_64's ORC entry says so,
    # and the unwinder gives gdb a zero pc, where it stops.
    assert got == want + ["??"] and bt[-1].split()[1] == "0x0000000000000000", out
    for line, (_, rip) in zip(bt, frames):
        assert f"{rip:#018x}" in line, (line, out)
