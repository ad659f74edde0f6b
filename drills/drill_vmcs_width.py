"""vmcs-width: a 32-bit VMCS field read with a VMREAD whose destination is
memory, past the typed accessors (seed 001, "vmwrite in 64-bit": XMHF read
32-bit fields straight into its vcpu struct through a 64-bit operand and
clobbered the neighbouring member). In 64-bit mode VMREAD stores 64 bits
whatever the field's width (SDM Vol. 3C, 31.3, "VMREAD").

The planted read is the xAPIC step's saved exception bitmap
(hv/vapic/xapic_step.c, step_begin); its neighbour in struct lapic_step is
`reg`, the offset of the access being stepped, which the zero upper half
overwrites: every stepped xAPIC write is then applied at offset 0.

Tools: binscan.vmcs_access (objdump of hv.elf; `make test` runs it on the
normal build, tests/host/test_binscan.py) finds the instruction; addr2line
gives the inline chain (the function in the source), the encoding loaded
into the VMREAD's source register names the field through
hv/vmx/vmcs_fields.def, and gdb's `ptype/o struct vcpu` names the member
the displacement hits and its neighbour. Then the symptom: the test
guest's smp_xapic scenario (2 CPUs, Bochs), whose xAPIC writes the
hypervisor reports as refused (its console refusal lines) and
whose own checks fail."""
from __future__ import annotations

import os
import re
import subprocess

from hvtools import binscan

import guestrun
from harness import ROOT, Context, Finding, emulated_seconds

PLANT = "vmcs-width"
PLANTED = ("the xAPIC step saves the exception bitmap (32-bit field) with a VMREAD to "
           "memory, which stores 64 bits over its neighbour step.reg")

_MOV_IMM = re.compile(r"^\$0x([0-9a-f]+),%(\w+)$")
_MEM = re.compile(r"^%(\w+),(-?0x[0-9a-f]+)?\(%(\w+)\)$")
_MEMBER = re.compile(r"^/\*\s+(\d+)\s+\|\s+(\d+) \*/\s+(.*?);?$")


def field_names() -> dict[int, tuple[str, str]]:
    """Encoding -> (name, width) from the VMCS table the C code includes."""
    text = open(os.path.join(ROOT, "hv", "vmx", "vmcs_fields.def")).read()
    return {int(e, 16): (n, w) for n, e, w in
            re.findall(r"^VMCS_FIELD\((\w+),\s*(0x[0-9a-f]+),\s*(\w+),", text, re.M)}


def _reg_family(reg: str) -> str:
    """rdx, edx, dx -> dx; r8, r8d -> r8 (a 32-bit mov sets the 64-bit register)."""
    m = re.match(r"^(r\d+)[dwb]?$", reg)
    if m:
        return m.group(1)
    return reg[1:] if len(reg) == 3 and reg[0] in "re" else reg


def displacement(insns: list[binscan.Insn], addr: int, base: str, disp: str | None) -> int:
    """The store's offset from its struct: the operand's own displacement,
    or that of the `lea d(%reg),%base` that computed the address."""
    if disp:
        return int(disp, 16)
    for i in reversed([i for i in insns if i.addr < addr]):
        if i.operands.endswith(f",%{base}"):
            m = re.match(r"^(0x[0-9a-f]+)\(%\w+\),", i.operands) if i.mnemonic == "lea" else None
            return int(m.group(1), 16) if m else 0
    return 0


def encoding_before(insns: list[binscan.Insn], addr: int, reg: str) -> int | None:
    """The immediate last moved into the VMREAD's encoding register."""
    before = [i for i in insns if i.addr < addr]
    for i in reversed(before):
        m = _MOV_IMM.match(i.operands) if i.mnemonic == "mov" else None
        if m and _reg_family(m.group(2)) == _reg_family(reg):
            return int(m.group(1), 16)
    return None


def inline_chain(elf: str, addr: int) -> list[str]:
    """addr2line -i: innermost function first, each with its line."""
    out = subprocess.run(["addr2line", "-f", "-i", "-e", elf, hex(addr)], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    return [f"{fn} ({os.path.relpath(at.split(' ')[0], ROOT)})"
            for fn, at in zip(out[0::2], out[1::2]) if fn]


def vcpu_members_at(elf: str, offset: int) -> tuple[str, str] | None:
    """struct vcpu's member at that offset, if it is 4 bytes, and the next one."""
    out = subprocess.run(["gdb", "-batch", "-nx", "-ex", "ptype/o struct vcpu", elf],
                         capture_output=True, text=True).stdout
    members = [(int(o), int(sz), decl.strip()) for o, sz, decl in
               (m.groups() for m in map(_MEMBER.match, out.splitlines()) if m)]
    for k, (o, sz, decl) in enumerate(members):
        if o == offset and sz == 4 and k + 1 < len(members):
            return decl, f"{members[k + 1][2]} (offset {members[k + 1][0]})"
    return None


def explain(elf: str, f: binscan.Finding, funcs: dict[str, list[binscan.Insn]],
            fields: dict[int, tuple[str, str]]) -> list[str]:
    """What the scan's instruction reads and where it stores."""
    src = f.insn.split(" ", 1)[1]
    m = _MEM.match(src)
    if not m or not f.insn.startswith("vmread"):
        return []
    lines = ["inlined: " + " <- ".join(inline_chain(elf, f.address))]
    enc = encoding_before(funcs.get(f.function, []), f.address, m.group(1))
    if enc is not None:
        name, width = fields.get(enc, (f"encoding {enc:#x}", "?"))
        lines.append(f"field {name} ({enc:#x}, {width}: {32 if width == 'W32' else 64} bits "
                     "wide) stored with a 64-bit memory write")
    disp = displacement(funcs.get(f.function, []), f.address, m.group(3), m.group(2))
    hit = vcpu_members_at(elf, disp)
    if hit:
        lines.append(f"displacement {disp:#x} is struct vcpu's {hit[0]}: its upper half "
                     f"lands on {hit[1]}")
    return lines


def symptom(ctx: Context) -> tuple[list[str], float | None]:
    """The test guest's xAPIC SMP bring-up: what the hypervisor refused and
    what the guest's checks said."""
    s, how = guestrun.run_guest(ctx.elf, ctx.sub("guest"), ["smp_xapic"],
                                args="smp_timeout_ms=20000", say=ctx.say)
    # The refusal reports are console lines (GUEST_REFUSED events are in
    # the vmx trace class, left off here as in tests/system/test_smp.py).
    refused = [line for _, line in s.lines() if "refused LAPIC_ACCESS" in line]
    at0 = [line for line in refused if re.search(r"at offset 0x0 |first access at 0x0\)", line)]
    failed = [f"CHECK {a}.{b}: {r}" for a, b, r in guestrun.checks(s) if r != "PASS"]
    ctx.say(f"guest run {how}: {len(refused)} LAPIC_ACCESS refusals ({len(at0)} at offset 0), "
            f"{len(failed)} failed checks")
    quotes = [f"guest run ({how}): {len(refused)} 'refused LAPIC_ACCESS' console lines, "
              f"{len(at0)} of them at offset 0"]
    quotes += refused[:3] + failed[:3]
    if not refused and not failed:
        quotes.append("smp_xapic: every check PASS, no xAPIC access refused")
    return quotes, emulated_seconds(s)


def run(ctx: Context) -> Finding:
    found = [f for f in binscan.vmcs_access(ctx.elf) if "memory operand" in f.why]
    ctx.say(f"binscan.vmcs_access: {len(found)} VMREAD/VMWRITE with a memory operand")
    quotes = [str(f) for f in found[:3]]
    tools = ["binscan.vmcs_access (hv.elf)"]
    cause = "no VMREAD/VMWRITE with a memory operand in hv.elf"
    if found:
        funcs = binscan.disassemble(ctx.elf)
        fields = field_names()
        for f in found[:3]:
            quotes += explain(ctx.elf, f, funcs, fields)
        tools += ["addr2line -i", "gdb ptype/o", "vmcs_fields.def"]
        where = inline_chain(ctx.elf, found[0].address)
        cause = (f"{found[0].insn} in {where[0] if where else found[0].function}: "
                 "a 64-bit VMREAD store into a 32-bit slot")
        field = [q for q in quotes if q.startswith("field ")]
        if field:
            cause += f" ({field[0].split(' (')[0][6:]})"
        hit = [q for q in quotes if q.startswith("displacement ")]
        if hit:
            cause += ", whose upper half lands on " + hit[0].split("lands on ")[1]
    more, emu = symptom(ctx)
    tools.append("test guest smp_xapic in Bochs (hvtools Session: refusal reports, guest CHECK lines)")
    return Finding(bool(found), cause, quotes=quotes + more, tools=tools, emulated_s=emu)
