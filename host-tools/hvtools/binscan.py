"""Static checks of the hypervisor binary (objdump of hv.elf).

red_zone(): memory a function touches below its stack pointer. The
hypervisor takes exceptions and NMIs on the stack it is running on (only
#DF, NMI and #MC have IST stacks), so anything kept below RSP is clobbered
by the next one: the seed notes' "red zone vmread" bug. -mno-red-zone
forbids it; this finds it in the code itself, whatever the flags were.
With frame pointers (which the hypervisor keeps), locals are addressed
from RBP: an access at -k(%rbp) is below RSP when k exceeds what the
function allocated below RBP (its pushes and `sub $n,%rsp` after
`mov %rsp,%rbp`); an access at -k(%rsp) is below RSP by definition.

vmcs_access(): VMREAD/VMWRITE outside the typed accessors, or with a
memory operand. In 64-bit mode both move 64 bits whatever the field's
width (SDM Vol. 3C, 31.3, "VMREAD"): a VMREAD into a 32-bit variable in
memory overwrites its neighbour (seed 001, "vmwrite in 64-bit"). The
accessors (hv/vmx/vmcs.c, vmcs_dump.c, through vmx_insn.h) use registers
and convert by the field's width; nothing else may issue them."""
from __future__ import annotations

import dataclasses
import re
import subprocess

VMCS_ACCESSOR_FILES = ("hv/vmx/vmcs.c", "hv/vmx/vmcs_dump.c", "hv/vmx/vmx_insn.h")

_FUNC = re.compile(r"^([0-9a-f]+) <([^>]+)>:$")
_INSN = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")
_LINE = re.compile(r"^(/\S+|\S+\.[chS]):(\d+)")
_RBP_NEG = re.compile(r"-0x([0-9a-f]+)\(%rbp")
_RSP_NEG = re.compile(r"-0x([0-9a-f]+)\(%rsp")
_SUB_RSP = re.compile(r"^\$0x([0-9a-f]+),%rsp$")
_TARGET = re.compile(r"<([A-Za-z_][\w.]*)(?:\+0x[0-9a-f]+)?>")


@dataclasses.dataclass
class Finding:
    function: str
    address: int
    insn: str
    why: str
    where: str = ""         # source file:line when objdump -l knew it

    def __str__(self) -> str:
        at = f" ({self.where})" if self.where else ""
        return f"{self.function} at {self.address:#x}: {self.insn}: {self.why}{at}"


@dataclasses.dataclass
class Insn:
    addr: int
    mnemonic: str
    operands: str
    where: str
    target: str = ""        # the symbol objdump named for a RIP-relative operand


def disassemble(elf: str, lines: bool = False) -> dict[str, list[Insn]]:
    """Functions of .text with their instructions (AT&T syntax)."""
    argv = ["objdump", "-d", "--no-show-raw-insn", "-j", ".text"]
    if lines:
        argv.append("-l")
    out = subprocess.run(argv + [elf], capture_output=True, text=True, check=True).stdout
    funcs: dict[str, list[Insn]] = {}
    cur: list[Insn] | None = None
    where = ""
    for raw in out.splitlines():
        m = _FUNC.match(raw)
        if m:
            cur = funcs.setdefault(m.group(2), [])
            continue
        m = _LINE.match(raw)
        if m:
            where = raw.split(" ")[0]
            continue
        m = _INSN.match(raw)
        if m and cur is not None:
            ops = m.group(3).split("#")[0].strip()
            t = _TARGET.search(m.group(3).partition("#")[2])
            cur.append(Insn(int(m.group(1), 16), m.group(2), ops, where,
                            t.group(1) if t else ""))
    return funcs


def _allocated_below_rbp(insns: list[Insn]) -> int | None:
    """Bytes the function reserves below RBP after `mov %rsp,%rbp`, or
    None if it sets up no frame pointer (or realigns RSP: unknown)."""
    framed = False
    depth = most = 0
    for i in insns:
        if i.mnemonic == "mov" and i.operands == "%rsp,%rbp":
            framed, depth = True, 0
            continue
        if not framed:
            continue
        if i.mnemonic == "push":
            depth += 8
        elif i.mnemonic == "sub":
            m = _SUB_RSP.match(i.operands)
            if m:
                depth += int(m.group(1), 16)
        elif i.mnemonic == "and" and i.operands.endswith(",%rsp"):
            return None
        most = max(most, depth)
    return most if framed else None


def red_zone(elf: str) -> list[Finding]:
    found = []
    for fn, insns in disassemble(elf, lines=True).items():
        below = _allocated_below_rbp(insns)
        for i in insns:
            if i.mnemonic.startswith(("lea", "nop")):
                continue            # an address computed, no memory touched
            m = _RSP_NEG.search(i.operands)
            if m:
                found.append(Finding(fn, i.addr, f"{i.mnemonic} {i.operands}",
                                     f"touches {int(m.group(1), 16)} bytes below RSP",
                                     i.where))
                continue
            m = _RBP_NEG.search(i.operands)
            if m and below is not None and int(m.group(1), 16) > below:
                found.append(Finding(fn, i.addr, f"{i.mnemonic} {i.operands}",
                                     f"touches RBP-{int(m.group(1), 16):#x}, below RSP "
                                     f"(the function reserved only {below} bytes below RBP)",
                                     i.where))
    return found


def vmcs_access(elf: str) -> list[Finding]:
    found = []
    for fn, insns in disassemble(elf, lines=True).items():
        for i in insns:
            if i.mnemonic not in ("vmread", "vmwrite"):
                continue
            text = f"{i.mnemonic} {i.operands}"
            if "(" in i.operands:
                what = "stores" if i.mnemonic == "vmread" else "loads"
                found.append(Finding(fn, i.addr, text,
                                     f"{i.mnemonic} with a memory operand {what} 64 bits "
                                     "whatever the field's width", i.where))
            elif not any(f in i.where for f in VMCS_ACCESSOR_FILES):
                found.append(Finding(fn, i.addr, text,
                                     f"{i.mnemonic} outside the typed accessors "
                                     f"({', '.join(VMCS_ACCESSOR_FILES)})", i.where))
    return found


def stores(elf: str, function: str, symbols: tuple[str, ...]) -> list[Insn]:
    """The instructions of one function that write any of the named
    globals, in address order (program order where the function has no
    loops between them): a MOV whose destination is the RIP-relative
    symbol, or an XCHG with it (what __atomic_store_n(.., SEQ_CST)
    compiles to). The order of a protocol's stores, read from the binary
    itself rather than from the source the build may not match."""
    out = []
    for i in disassemble(elf).get(function, []):
        if i.target not in symbols or "(%rip)" not in i.operands:
            continue
        if i.mnemonic.startswith("xchg") or (i.mnemonic.startswith("mov") and
                                             "(%rip)" in i.operands.rsplit(",", 1)[-1]):
            out.append(i)
    return sorted(out, key=lambda i: i.addr)
