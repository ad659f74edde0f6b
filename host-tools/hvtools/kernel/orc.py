"""The kernel's ORC unwind tables (CONFIG_UNWINDER_ORC, Debian's default, no
frame pointers), read from the image, and one unwind step as the kernel's
own unwinder takes it (arch/x86/kernel/unwind_orc.c, Linux 6.1).

.orc_unwind_ip: s32[n], each relative to its own address: the first
instruction an entry covers, sorted. .orc_unwind: 6 bytes per entry, in
6.1's layout (orc_types.h):

    s16 sp_offset; s16 bp_offset;
    u16 sp_reg:4, bp_reg:4, type:2, end:1

An entry says where the caller's stack pointer (the CFA) is, from SP or BP
plus an offset (or through a pointer), what kind of frame this is (a call:
the return address is just below the CFA; a full pt_regs; or an iret frame)
and where the caller's BP was saved."""
from __future__ import annotations

import array
import bisect
import struct
from dataclasses import dataclass
from typing import Callable

from .vmlinux import Vmlinux

REG_UNDEFINED, REG_PREV_SP, REG_DX, REG_DI, REG_BP, REG_SP, REG_R10, REG_R13, \
    REG_BP_INDIRECT, REG_SP_INDIRECT = range(10)
TYPE_CALL, TYPE_REGS, TYPE_REGS_PARTIAL = range(3)

# struct pt_regs (arch/x86/include/asm/ptrace.h), in order: the 8-byte slot
# of each register in a full frame. An iret frame is its tail from ip on.
PT_REGS = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
           "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss")
IRET_OFFSET = PT_REGS.index("rip") * 8
_BY_ORC_REG = {REG_DX: "rdx", REG_DI: "rdi", REG_R10: "r10", REG_R13: "r13"}


@dataclass(frozen=True)
class Entry:
    sp_offset: int
    bp_offset: int
    sp_reg: int
    bp_reg: int
    type: int
    end: bool


class OrcTable:
    def __init__(self, vm: Vmlinux):
        sec = vm.section(".orc_unwind_ip")
        rel = array.array("i", vm.bytes_of(".orc_unwind_ip"))
        self.ips = [sec.addr + 4 * i + r for i, r in enumerate(rel)]
        self.entries = vm.bytes_of(".orc_unwind")
        if len(self.entries) != 6 * len(self.ips):
            raise ValueError(".orc_unwind and .orc_unwind_ip disagree in length")
        if any(a > b for a, b in zip(self.ips, self.ips[1:])):
            raise ValueError(".orc_unwind_ip is not sorted")
        self.text = sorted((s.addr, s.addr + s.size) for s in vm.sections.values()
                           if s.executable and s.addr)

    def covers(self, ip: int) -> bool:
        return any(lo <= ip < hi for lo, hi in self.text)

    def find(self, ip: int) -> Entry | None:
        """The entry that covers link address ip (the last one at or below it)."""
        i = bisect.bisect_right(self.ips, ip) - 1
        if i < 0 or not self.covers(ip):
            return None
        sp, bp, bits = struct.unpack_from("<hhH", self.entries, 6 * i)
        return Entry(sp, bp, bits & 15, bits >> 4 & 15, bits >> 8 & 3, bool(bits >> 10 & 1))


class UnwindError(Exception):
    pass


def step(entry: Entry, regs: dict[str, int], read_u64: Callable[[int], int]):
    """The caller's registers from this frame's, per `entry` (found for this
    frame's rip, or rip - 1 for a return address). Returns (caller regs,
    caller_is_interrupted): the caller's rip is exact (an interrupted
    instruction) after a pt_regs or iret frame, a return address after a
    call. Returns None at the end of the stack; raises UnwindError when the
    entry cannot be followed with what is known (a register that is not)."""
    if entry.sp_reg == REG_UNDEFINED:
        if entry.end:
            return None
        raise UnwindError("ORC entry with an undefined stack pointer")
    if entry.type == TYPE_CALL and entry.end:
        return None
    indirect = False
    if entry.sp_reg == REG_SP:
        cfa = regs["rsp"] + entry.sp_offset
    elif entry.sp_reg == REG_BP:
        cfa = regs["rbp"] + entry.sp_offset
    elif entry.sp_reg == REG_SP_INDIRECT:
        cfa, indirect = regs["rsp"], True
    elif entry.sp_reg == REG_BP_INDIRECT:
        cfa, indirect = regs["rbp"] + entry.sp_offset, True
    elif entry.sp_reg in _BY_ORC_REG and _BY_ORC_REG[entry.sp_reg] in regs:
        cfa = regs[_BY_ORC_REG[entry.sp_reg]] + entry.sp_offset
    else:
        raise UnwindError(f"ORC base register {entry.sp_reg} not known in this frame")
    cfa &= (1 << 64) - 1
    if indirect:
        cfa = read_u64(cfa)
        if entry.sp_reg == REG_SP_INDIRECT:
            cfa += entry.sp_offset
    out = {"rbp": regs["rbp"]} if "rbp" in regs else {}     # BP undefined: unchanged
    if entry.type == TYPE_CALL:
        out["rip"] = read_u64(cfa - 8)
        out["rsp"] = cfa
        interrupted = False
    elif entry.type == TYPE_REGS:
        out.update({r: read_u64(cfa + 8 * i) for i, r in enumerate(PT_REGS)})
        interrupted = True
    elif entry.type == TYPE_REGS_PARTIAL:
        for i, r in enumerate(PT_REGS[PT_REGS.index("rip"):]):
            out[r] = read_u64(cfa + 8 * i)
        interrupted = True
    else:
        raise UnwindError(f"ORC frame type {entry.type} unknown")
    if entry.bp_reg == REG_PREV_SP:
        out["rbp"] = read_u64(cfa + entry.bp_offset)
    elif entry.bp_reg == REG_BP:
        out["rbp"] = read_u64(regs["rbp"] + entry.bp_offset)
    return out, interrupted
