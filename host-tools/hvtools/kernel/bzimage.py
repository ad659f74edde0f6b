"""The vmlinux ELF inside an x86 bzImage (Documentation/arch/x86/boot.rst:
the setup header's payload_offset/payload_length, from the start of the
protected-mode code at (setup_sects + 1) * 512)."""
from __future__ import annotations

import bz2
import gzip
import lzma
import struct

_DECOMPRESSORS = [
    (b"\xfd7zXZ\x00", "xz", lambda p: lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(p)),
    (b"\x1f\x8b", "gzip", lambda p: gzip.GzipFile(fileobj=__import__("io").BytesIO(p)).read()),
    (b"BZh", "bzip2", lambda p: bz2.BZ2Decompressor().decompress(p)),
    (b"\x5d\x00\x00", "lzma", lambda p: lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(p)),
]


class ImageError(Exception):
    pass


def vmlinux_from_bzimage(data: bytes) -> bytes:
    if len(data) < 0x250 or data[0x202:0x206] != b"HdrS":
        raise ImageError("not a bzImage (no 'HdrS' setup header at 0x202)")
    version, = struct.unpack_from("<H", data, 0x206)
    if version < 0x208:
        raise ImageError(f"boot protocol {version >> 8}.{version & 0xff} has no payload fields (2.08+)")
    setup_sects = data[0x1f1] or 4
    off, length = struct.unpack_from("<II", data, 0x248)
    start = (setup_sects + 1) * 512 + off
    payload = data[start:start + length]
    for magic, name, unpack in _DECOMPRESSORS:
        if payload.startswith(magic):
            try:
                elf = unpack(payload)
            except Exception as e:  # noqa: BLE001 - any codec error means a bad image
                raise ImageError(f"{name} payload does not decompress: {e}") from e
            if not elf.startswith(b"\x7fELF\x02"):
                raise ImageError(f"the {name} payload is not a 64-bit ELF")
            return elf
    raise ImageError(f"payload compression not supported (magic {payload[:6].hex()}; "
                     "xz, gzip, bzip2 and lzma are)")


def read_vmlinux(path: str) -> bytes:
    """A bzImage (vmlinuz) or an uncompressed vmlinux ELF."""
    with open(path, "rb") as f:
        data = f.read()
    return data if data.startswith(b"\x7fELF") else vmlinux_from_bzimage(data)
