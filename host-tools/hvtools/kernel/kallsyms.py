"""The kernel's own symbol table, decoded from the image the way
kernel/kallsyms.c reads it at run time (Linux 6.1, CONFIG_KALLSYMS_BASE_RELATIVE
and ABSOLUTE_PERCPU, as Debian builds it). scripts/kallsyms.c emits into
.rodata, in this order, each label 8-aligned:

    kallsyms_offsets       s32[n]: >= 0 an absolute value, < 0 relative_base - 1 - it
    kallsyms_relative_base u64
    kallsyms_num_syms      u32 n
    kallsyms_names         per symbol: length (1 byte; 2 if bit 7 set), then that
                           many token indices; the first expanded char is the type
    kallsyms_markers       u32 per 256 symbols: offset of symbol 256k in names
    kallsyms_seqs_of_names 3 bytes per symbol (6.2, and Debian's 6.1 stable)
    kallsyms_token_table   256 NUL-terminated strings
    kallsyms_token_index   u16[256]: each string's offset in the table

None of these labels is itself in the table, so they are found by shape:
the token table holds "0".."9" as ten consecutive one-character tokens
(characters that occur in names keep their own code), and the relative base
sits before names that decode exactly up to markers that agree with them."""
from __future__ import annotations

import struct

from .vmlinux import Vmlinux


class KallsymsError(Exception):
    pass


def _token_table(ro: bytes) -> tuple[int, list[str]]:
    digits = b"".join(bytes([c]) + b"\0" for c in b"0123456789")
    at = ro.find(digits)
    while at >= 0:
        p = at - 1                          # the NUL that ends token 0x2f
        try:
            for _ in range(0x30):
                p = ro.rindex(b"\0", 0, p)
            start, toks, q = p + 1, [], p + 1
            for _ in range(256):
                e = ro.index(b"\0", q)
                toks.append(ro[q:e].decode("latin-1"))
                q = e + 1
        except ValueError:
            toks = []
        if len(toks) == 256 and toks[0x30] == "0" and all(toks):
            index = struct.unpack_from("<256H", ro, (q + 7) & ~7)
            offs, o = [], 0
            for t in toks:
                offs.append(o)
                o += len(t) + 1
            if list(index) == offs:
                return start, toks
        at = ro.find(digits, at + 1)
    raise KallsymsError("no kallsyms token table in .rodata (CONFIG_KALLSYMS off, or a "
                        "layout other than Linux 6.1's)")


def _names(ro: bytes, at: int, n: int, toks: list[str], limit: int):
    """n names from `at`, or None when they do not decode within `limit`."""
    names, starts, p = [], [], at
    for _ in range(n):
        if p >= limit:
            return None
        starts.append(p - at)
        ln = ro[p]
        p += 1
        if ln & 0x80:
            ln = (ln & 0x7f) | ro[p] << 7
            p += 1
        if ln == 0 or p + ln > limit:
            return None
        names.append("".join(toks[b] for b in ro[p:p + ln]))
        p += ln
    return names, starts, p


def read_kallsyms(vm: Vmlinux) -> list[tuple[int, str, str]]:
    """(link address, type letter, name) for every symbol, in table order
    (address order)."""
    ro_sec = vm.section(".rodata")
    ro = vm.bytes_of(".rodata")
    tt, toks = _token_table(ro)
    for off in range(0, tt - 16, 8):
        base, n = struct.unpack_from("<QI", ro, off)
        if base >> 32 != 0xffffffff or base & 0xfff or not 256 < n < 1 << 22 \
                or off < 4 * n:
            continue
        got = _names(ro, off + 16, n, toks, tt)
        if got is None:
            continue
        names, starts, end = got
        m = (end + 7) & ~7
        count = (n + 255) // 256
        if m + 4 * count > tt:
            continue
        markers = struct.unpack_from(f"<{count}I", ro, m)
        if list(markers) != starts[::256]:
            continue
        raw = struct.unpack_from(f"<{n}i", ro, off - 4 * n)
        addrs = [r if r >= 0 else base - 1 - r for r in raw]
        return [(a, nm[0], nm[1:]) for a, nm in zip(addrs, names)]
    raise KallsymsError(f"kallsyms token table at .rodata+{tt:#x} (vaddr "
                        f"{ro_sec.addr + tt:#x}) but no names table before it decodes")


def text_symbols(syms) -> list[tuple[int, str]]:
    """Code symbols (T/t/W/w) by address, one name per address (a global
    before a weak before a local, then the table's first): a debugger
    shows one name for an address, and sizes run to the next address."""
    rank = {"T": 0, "W": 1, "t": 2, "w": 3}
    best: dict[int, tuple[int, str]] = {}
    for a, t, n in syms:
        if t in rank and a and (a not in best or rank[t] < best[a][0]):
            best[a] = (rank[t], n)
    return sorted((a, n) for a, (_, n) in best.items())
