"""The catalogue parsed by Python equals what the C preprocessor makes of the
same events.def/names.def, and its identity is the file's CRC-32."""
import os
import subprocess
import zlib

import pytest

from testpaths import BUILD
from hvtools import catalog

TEST_WIRE = os.path.join(BUILD, "host", "test_wire")


def c_catalog():
    assert os.path.exists(TEST_WIRE), "run make build/host/test_wire"
    p = subprocess.run([TEST_WIRE, "--list-catalog"], capture_output=True, text=True,
                       timeout=60, check=True)
    return [l.split() for l in p.stdout.splitlines()]


def test_crc_is_file_crc():
    cat = catalog.default()
    with open(catalog.EVENTS_DEF, "rb") as f:
        assert cat.crc == zlib.crc32(f.read())


def test_events_agree_with_c():
    cat = catalog.default()
    rows = c_catalog()
    ev = {int(r[1]): (r[2], int(r[3]), int(r[4])) for r in rows if r[0] == "E"}
    assert ev == {e.id: (e.name, e.nargs, cat.class_by_name[e.cls].bit)
                  for e in cat.events.values()}
    classes = {int(r[1]): r[2] for r in rows if r[0] == "C"}
    assert classes == {b: c.name for b, c in cat.classes.items()}


def test_name_tables_agree_with_c():
    cat = catalog.default()
    rows = [r for r in c_catalog() if r[0] == "N"]
    for _, fmt, v, name in rows:
        assert cat.name_of(fmt, int(v)) == name, (fmt, v)
    for fmt in ("exit", "vec", "vmerr", "origin", "utpm"):
        assert len([r for r in rows if r[1] == fmt]) == len(cat.tables[fmt])


def test_required_events_and_formats():
    cat = catalog.default()
    for name in ("CONSOLE_TEXT", "VMEXIT", "VMENTRY", "VMRESUME", "VMENTRY_FAIL",
                 "EXC_ENTER", "EXC_EXIT", "NMI_ENTER", "NMI_EXIT", "NMI_INJECTED",
                 "NMI_PENDING", "NMI_WINDOW", "QUIESCE_REQUEST", "QUIESCE_JOINED",
                 "QUIESCE_RELEASED", "HYPERCALL", "BOOT", "CPU_ONLINE", "RING_LOSS",
                 "TV_PAL_REGISTER", "TV_UTPM_OP"):
        assert name in cat.by_name
    assert cat.format_value("exit", 32) == "WRMSR"
    assert cat.format_value("exit", 0x80000021) == "ENTRY_FAIL_GUEST_STATE|ENTRY_FAIL"
    assert cat.format_value("vec", 14) == "#PF"
    assert cat.format_value("vec", 15) == "0xf"
    assert cat.format_value("origin", 1) == "guest"
    assert cat.format_value("x", 255) == "0xff"
    assert cat.format_value("d", 255) == "255"
    assert cat.format_value("sym", 0x1000, lambda a: "start+0x10") == "0x1000 <start+0x10>"


@pytest.mark.parametrize("bad", [
    'TRACE_CLASS(1, vmx, "v")\nTRACE_EVENT(0x40, X, vmx)',             # wrong range
    'TRACE_CLASS(1, vmx, "v")\nTRACE_EVENT(0x20, X, nope)',            # unknown class
    'TRACE_CLASS(1, vmx, "v")\nTRACE_EVENT(0x20, X, vmx, "a:zz")',     # unknown fmt
    'TRACE_CLASS(1, vmx, "v")\nTRACE_EVENT(0x20, X, vmx)\nTRACE_EVENT(0x20, Y, vmx)',
    'TRACE_CLASS(1, vmx, "v")\nTRACE_EVENT(0x20, X, vmx, "a:x", "b:x", "c:x", "d:x", '
    '"e:x", "f:x", "g:x")',
    'TRACE_CLASS(1, vmx, "v")\nTRACE_EVENT(0x20, X, vmx, "a:str")',
    '/* TRACE_EVENT(0x20, X, vmx) */',
])
def test_bad_catalogues_refused(bad):
    with pytest.raises(catalog.CatalogError):
        catalog.Catalog.parse(bad.encode())


def test_comments_ignored():
    text = (b'TRACE_CLASS(1, vmx, "v") // TRACE_EVENT(0x21, NO, vmx)\n'
            b'/* TRACE_EVENT(0x22, NO2, vmx) */\nTRACE_EVENT(0x20, X, vmx, "a:x")\n')
    cat = catalog.Catalog.parse(text)
    assert list(cat.by_name) == ["X"] and cat.crc == zlib.crc32(text)
