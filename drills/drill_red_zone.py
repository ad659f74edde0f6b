"""red-zone: the hypervisor built without -mno-red-zone (seed 001, "red zone
vmread"): GCC keeps a leaf function's locals below RSP, and an exception or
NMI taken on the same stack (the GDB stub's #DB/#BP, any non-IST vector)
overwrites them. The scan of hv.elf's code (hvtools/binscan.py) finds every
access below RSP in any build, planted or not; `make test` runs it on the
normal build (tests/host/test_binscan.py)."""
from hvtools import binscan

from harness import Context, Finding

PLANT = "red-zone"
PLANTED = "hv built without -mno-red-zone (Makefile flag dropped)"


def run(ctx: Context) -> Finding:
    found = binscan.red_zone(ctx.elf)
    ctx.say(f"binscan.red_zone: {len(found)} accesses below RSP")
    if not found:
        return Finding(False, "no access below RSP in hv.elf", tools=["binscan"])
    funcs = sorted({f.function for f in found})
    return Finding(True, f"{len(found)} accesses below RSP in {len(funcs)} functions "
                   f"({', '.join(funcs[:4])}{', ...' if len(funcs) > 4 else ''})",
                   quotes=[str(f) for f in found[:5]], tools=["binscan (hv.elf)"])
