"""Static checks of the built hypervisor (hvtools/binscan.py), kept on for
every normal build: what the red-zone and vmcs-width drills need to name
their planted bugs also guards every build against them.

- No function touches memory below its stack pointer (seed 001, "red zone
  vmread": an NMI or exception on the same stack clobbers it).
- VMREAD/VMWRITE only in the typed accessors, only with register operands
  (seed 001, "vmwrite in 64-bit": a 64-bit VMREAD into a 32-bit slot)."""
import os

import pytest

from hvtools import binscan
from testpaths import BUILD

HV_ELF = os.path.join(BUILD, "hv.elf")


@pytest.fixture(scope="module")
def elf():
    if not os.path.exists(HV_ELF):
        pytest.fail(f"{HV_ELF} missing: run make all first")
    return HV_ELF


def test_nothing_below_rsp(elf):
    found = binscan.red_zone(elf)
    assert not found, "accesses below RSP:\n" + "\n".join(map(str, found))


def test_vmcs_access_only_through_typed_accessors(elf):
    found = binscan.vmcs_access(elf)
    assert not found, "raw VMCS accesses:\n" + "\n".join(map(str, found))


def test_scan_sees_the_accessors_vmreads(elf):
    """The scan reads the code at all: the accessors' own VMREADs are there
    and attributed to their files (a scan that sees nothing passes nothing)."""
    insns = [i for fn in binscan.disassemble(elf, lines=True).values() for i in fn
             if i.mnemonic == "vmread"]
    assert insns and all(any(f in i.where for f in binscan.VMCS_ACCESSOR_FILES)
                         for i in insns), insns


def test_red_zone_scan_finds_a_leaf_below_rsp(tmp_path):
    """The scan's positive case on a two-line program built with the red zone."""
    src = tmp_path / "leaf.c"
    src.write_text("int leaf(int a){ volatile int x[4]; x[0]=a; x[3]=a+1; return x[0]+x[3]; }\n")
    obj = tmp_path / "leaf.o"
    import subprocess
    subprocess.run(["gcc", "-O2", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer",
                    "-c", str(src), "-o", str(obj)], check=True)
    found = binscan.red_zone(str(obj))
    assert found and found[0].function == "leaf", found
