"""A symbol file gdb can load for a kernel whose debug symbols are not at
hand: a minimal ELF64 with one SHT_NOBITS .text section over the symbols
and one FUNC symbol per entry (its size: up to the next symbol). gdb then
names addresses (`bt`, `x/i`) with no DWARF; `add-symbol-file F -o SLIDE`
moves it to where a KASLR kernel runs."""
from __future__ import annotations

import struct


def write_symbol_elf(path: str, syms: list[tuple]) -> None:
    """syms: (address, name) sorted, sizes up to the next symbol; or
    (address, name, size) when only some functions are known."""
    lo = syms[0][0]
    hi = max(s[0] + (s[2] if len(s) > 2 else 16) for s in syms)
    shstr = b"\0.text\0.symtab\0.strtab\0.shstrtab\0"
    strtab, symtab = bytearray(b"\0"), bytearray(bytes(24))     # symbol 0: null
    for i, sym in enumerate(syms):
        addr, name = sym[0], sym[1]
        if len(sym) > 2:
            size = sym[2]
        else:
            size = (syms[i + 1][0] if i + 1 < len(syms) else hi) - addr
        off = len(strtab)
        strtab += name.encode() + b"\0"
        info = 1 << 4 | 2                                       # GLOBAL FUNC
        symtab += struct.pack("<IBBHQQ", off, info, 0, 1, addr, size)
    body = symtab + strtab + shstr
    sh_off = 64 + len(body)
    sh_off += (-sh_off) % 8
    ehdr = struct.pack("<4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0,
                       2, 0x3e, 1, lo, 0, sh_off, 0, 64, 0, 0, 64, 5, 4)

    def sh(name, typ, flags, addr, off, size, link, info, align, entsize):
        return struct.pack("<IIQQQQIIQQ", name, typ, flags, addr, off, size, link, info,
                           align, entsize)
    sym_off, str_off = 64, 64 + len(symtab)
    shs_off = str_off + len(strtab)
    shdrs = (sh(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
             + sh(1, 8, 6, lo, 64, hi - lo, 0, 0, 16, 0)                      # .text NOBITS AX
             + sh(7, 2, 0, 0, sym_off, len(symtab), 3, 1, 8, 24)             # .symtab
             + sh(15, 3, 0, 0, str_off, len(strtab), 0, 0, 1, 0)             # .strtab
             + sh(23, 3, 0, 0, shs_off, len(shstr), 0, 0, 1, 0))             # .shstrtab
    with open(path, "wb") as f:
        f.write(ehdr + body + bytes(sh_off - 64 - len(body)) + shdrs)
