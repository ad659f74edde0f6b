"""A vmlinux ELF's sections by name, and its bytes by link address."""
from __future__ import annotations

import struct
from dataclasses import dataclass

from . import bzimage


@dataclass(frozen=True)
class Section:
    name: str
    addr: int
    offset: int
    size: int
    nobits: bool
    executable: bool


class Vmlinux:
    def __init__(self, elf: bytes):
        if elf[:5] != b"\x7fELF\x02" or elf[5] != 1:
            raise ValueError("not a little-endian 64-bit ELF")
        self.data = elf
        shoff, = struct.unpack_from("<Q", elf, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3a)
        raw = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize) for i in range(shnum)]
        names_at = raw[shstrndx][4]
        self.sections: dict[str, Section] = {}
        for name_off, typ, flags, addr, off, size, *_ in raw:
            end = elf.index(b"\0", names_at + name_off)
            name = elf[names_at + name_off:end].decode("ascii", "replace")
            self.sections[name] = Section(name, addr, off, size, typ == 8, bool(flags & 4))

    def section(self, name: str) -> Section:
        try:
            return self.sections[name]
        except KeyError:
            raise KeyError(f"vmlinux has no {name} section") from None

    def bytes_of(self, name: str) -> bytes:
        s = self.section(name)
        return b"" if s.nobits else self.data[s.offset:s.offset + s.size]


def load(path: str) -> Vmlinux:
    """The vmlinux of a bzImage (vmlinuz) or of an uncompressed ELF file."""
    return Vmlinux(bzimage.read_vmlinux(path))
