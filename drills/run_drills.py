#!/usr/bin/python3
"""make drills: every planted bug, one at a time, and whether the project's
tools name its cause (drills/README.md).

For each drill: build the planted hypervisor (make HV_BUGS=<name>), check
that the planted change added no text to the image, run the drill on it
(it must name the cause), then the same drill on the normal build (it must
not). Prints what was planted, what the tools reported (quoted), the time
to the diagnosis (wall and emulated), and a table; everything goes to
results/<timestamp>-drills/, the table also to results/drills.md."""
from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import subprocess
import sys
import time
import traceback

import harness
from harness import Context, Finding

RESULTS = os.path.join(harness.ROOT, "results")


def load_drills() -> dict[str, object]:
    drills = {}
    for path in sorted(glob.glob(os.path.join(harness.HERE, "drill_*.py"))):
        name = os.path.basename(path)[:-3]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        drills[mod.PLANT] = mod
    return drills


def image_strings(elf: str) -> set[str]:
    """The text the image can print: strings in .rodata and .data (not the
    code's bytes, not the debug info)."""
    import tempfile
    with tempfile.NamedTemporaryFile() as t:
        subprocess.run(["objcopy", "-O", "binary", "--only-section=.rodata",
                        "--only-section=.data", elf, t.name], check=True)
        out = subprocess.run(["strings", "-a", "-n", "4", t.name], capture_output=True,
                             text=True, check=True).stdout
    return set(out.splitlines())


def new_text(planted: str) -> list[str]:
    """Strings the planted image has and the normal one lacks: text the
    planted code could print about itself (there must be none)."""
    return sorted(image_strings(planted) - image_strings(harness.NORMAL_ELF))


def run_one(mod, planted: bool, elf: str, top: str) -> Finding:
    ctx = Context(plant=mod.PLANT, planted=planted, elf=elf,
                  workdir=os.path.join(top, mod.PLANT, "planted" if planted else "clean"))
    os.makedirs(ctx.workdir, exist_ok=True)
    try:
        f = mod.run(ctx)
    except Exception as e:      # noqa: BLE001 -- a broken drill is a result too
        traceback.print_exc()
        f = Finding(False, f"the drill itself failed: {type(e).__name__}: {e}")
    f.wall_s = ctx.elapsed()
    with open(os.path.join(ctx.workdir, "finding.txt"), "w") as out:
        out.write(report(mod, f, planted) + "\n")
    return f


def report(mod, f: Finding, planted: bool) -> str:
    emu = f"{f.emulated_s:.1f} s emulated" if f.emulated_s is not None else "no emulator"
    lines = [f"{mod.PLANT} ({'planted' if planted else 'normal build'}): "
             f"{'NAMED' if f.named else 'not named'}: {f.cause}",
             f"  time to diagnosis: {f.wall_s:.0f} s wall, {emu}",
             f"  tools: {', '.join(f.tools) or '-'}"]
    lines += [f"  | {q}" for q in f.quotes]
    return "\n".join(lines)


def fmt_time(f: Finding) -> str:
    emu = f"{f.emulated_s:.1f}" if f.emulated_s is not None else "-"
    return f"{f.wall_s:.0f} s / {emu}"


def table(rows: list[tuple[str, str, Finding, Finding, list[str], bool]]) -> str:
    out = ["| planted bug | what was planted | named by | diagnosis | wall s / emulated s "
           "| normal build | verdict |",
           "|---|---|---|---|---|---|---|"]
    for plant, what, f, clean, extra, ok in rows:
        out.append(f"| `{plant}` | {what} | {', '.join(f.tools) or '-'} | "
                   f"{f.cause.replace('|', '/')} | {fmt_time(f)} | "
                   f"{'clean' if clean and not clean.named else 'FLAGGED: ' + clean.cause if clean else '-'}"
                   f" | {'PASS' if ok else 'FAIL'}{' (planted text: ' + ', '.join(extra) + ')' if extra else ''} |")
    return "\n".join(out) + "\n"


def main() -> int:
    drills = load_drills()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help=f"drills to run (default all: {' '.join(drills)})")
    p.add_argument("--no-clean", action="store_true",
                   help="skip the normal-build run (quicker; the verdict then says so)")
    a = p.parse_args()
    names = a.names or list(drills)
    bad = [n for n in names if n not in drills]
    if bad:
        p.error(f"no drill for {', '.join(bad)}; drills: {' '.join(drills)}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    top = os.path.join(RESULTS, f"{stamp}-drills")
    os.makedirs(top, exist_ok=True)
    rows = []
    for n in names:
        mod = drills[n]
        print(f"drill {n}: planting: {mod.PLANTED}", flush=True)
        elf = harness.build_planted(n)
        extra = new_text(elf)
        f = run_one(mod, True, elf, top)
        print(report(mod, f, True), flush=True)
        clean = None
        if not a.no_clean:
            clean = run_one(mod, False, harness.NORMAL_ELF, top)
            print(report(mod, clean, False), flush=True)
        ok = f.named and not extra and (clean is not None and not clean.named)
        rows.append((n, mod.PLANTED, f, clean, extra, ok))
        print(f"drill {n}: {'PASS' if ok else 'FAIL'}", flush=True)
    tab = table(rows)
    header = (f"# Drills: planted bugs and what named them\n\n"
              f"Run {stamp} (`make drills`). Times: from the drill's start to the "
              f"diagnosis, wall clock on this host / the hypervisor's own clock.\n\n")
    for path in (os.path.join(top, "table.md"), os.path.join(RESULTS, "drills.md")):
        with open(path, "w") as out:
            out.write(header + tab)
    print("\n" + tab)
    failed = [r[0] for r in rows if not r[5]]
    print(f"drills: {len(rows) - len(failed)} passed, {len(failed)} failed"
          + (f" ({', '.join(failed)})" if failed else "") + f"; evidence in {top}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
