"""results/stress.md: one table over the newest run of every stress matrix
in results/ (what `make stress` leaves), so a nightly job ends in one
page that says whether every cell of every matrix passed.

A matrix folder is results/<YYYYmmdd-HHMMSS>-<label>/ with table.txt (its
title on the first line) and a folder per cell whose verdict.txt starts
with the verdict. Only labels starting with `prefix` count; of several
runs with one label the newest wins (an older failure fixed since is not
the state of the tree)."""
from __future__ import annotations

import os
import re

STAMPED = re.compile(r"^(\d{8}-\d{6})-(.+)$")


def newest_matrices(results: str, prefix: str = "stress-") -> dict[str, str]:
    """label -> folder of its newest run (with or without a table.txt: a
    run that died before its first cell wrote none, and is no pass)."""
    best: dict[str, tuple[str, str]] = {}
    for name in sorted(os.listdir(results)) if os.path.isdir(results) else []:
        m = STAMPED.match(name)
        folder = os.path.join(results, name)
        if not m or not m.group(2).startswith(prefix) or not os.path.isdir(folder):
            continue
        stamp, label = m.groups()
        if label not in best or stamp > best[label][0]:
            best[label] = (stamp, folder)
    return {label: folder for label, (_, folder) in sorted(best.items())}


def cell_verdicts(folder: str) -> list[tuple[str, str, str]]:
    """(cell, verdict, summary line) of every cell folder, in cell order.
    A cell without verdict.txt (the matrix was cut short in it) says so."""
    out = []
    cells = [d for d in os.listdir(folder) if re.fullmatch(r"T\d+", d)]
    for cell in sorted(cells, key=lambda d: int(d[1:])):
        vpath = os.path.join(folder, cell, "verdict.txt")
        spath = os.path.join(folder, cell, "summary.txt")
        verdict = open(vpath).readline().strip() if os.path.exists(vpath) else "no-verdict"
        line = open(spath).readline().strip() if os.path.exists(spath) else ""
        out.append((cell, verdict or "no-verdict", line))
    return out


def markdown(results: str, prefix: str = "stress-") -> tuple[str, bool]:
    """The page and whether every cell of every matrix passed (False when
    there is no matrix at all: nothing ran is not a pass)."""
    rows, details, ok = [], [], True
    for label, folder in newest_matrices(results, prefix).items():
        tpath = os.path.join(folder, "table.txt")
        title = (open(tpath).readline().strip() if os.path.exists(tpath)
                 else "(no table.txt: the run ended before its first cell)")
        cells = cell_verdicts(folder)
        ok &= bool(cells) and all(v == "pass" for _, v, _ in cells)
        name = os.path.basename(folder)
        verdicts = ", ".join(f"{c} {v}" for c, v, _ in cells) or "no cells"
        rows.append(f"| `{label}` | {title} | {verdicts} | [{name}]({name}/table.html) |")
        details += ["", f"## `{label}` ({name})", "", "```"]
        details += [line or f"{c} {v}" for c, v, line in cells] + ["```"]
    ok = ok and bool(rows)
    verdict = ("Every cell passed." if ok else "NOT every cell passed." if rows
               else "No matrix has run.")
    head = ["# Stress matrices", "",
            "The newest run of every stress matrix in this folder (`make stress`, "
            "`host-tools/hvstress --summary`).", "", f"**{verdict}**",
            "", "| matrix | machine and load | verdicts | run |", "|---|---|---|---|"]
    return "\n".join(head + rows + details) + "\n", ok


def write(results: str, prefix: str = "stress-") -> tuple[str, bool]:
    text, ok = markdown(results, prefix)
    path = os.path.join(results, "stress.md")
    with open(path, "w") as f:
        f.write(text)
    return path, ok
