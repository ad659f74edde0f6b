"""The planted bugs (make HV_BUGS=name, issue 15) stay planted bugs:

- every name the Makefile offers has its drill (drills/drill_<name>.py)
  and, unless it is a build flag (red-zone), a planted block in the
  sources: `#ifdef HV_BUG_<NAME>` ... `#endif`, marked PLANTED BUG;
- a planted block prints nothing: no console, trace, serial or UART call
  in it, so no drill can be answered by the planted code describing
  itself (the drill runner also compares the planted image's strings with
  the normal image's);
- no normal build defines HV_BUG_* (the Makefile adds it only for
  HV_BUGS)."""
import glob
import os
import re
import subprocess

from testpaths import ROOT

FLAG_ONLY = {"red-zone"}        # planted by the compiler flags alone
PRINTERS = re.compile(r"\b(printf|puts|console_\w+|trace_event\w*|serial_\w+|uart_\w+|"
                      r"exception_dump|fatal\w*|report_\w+)\s*\(")


def bug_names() -> list[str]:
    out = subprocess.run(["make", "-s", "-C", ROOT, "-pn", "HV_BUGS="], capture_output=True,
                         text=True).stdout
    m = re.search(r"^HV_BUG_NAMES := (.*)$", out, re.M)
    assert m, "Makefile: HV_BUG_NAMES not found"
    return m.group(1).split()


def planted_blocks() -> dict[str, list[tuple[str, str]]]:
    """HV_BUG_<NAME> -> [(file, block text)], #ifdef to its #else/#endif."""
    blocks: dict[str, list[tuple[str, str]]] = {}
    files = glob.glob(os.path.join(ROOT, "hv", "**", "*.[chS]"), recursive=True) + \
        glob.glob(os.path.join(ROOT, "trustvisor", "*.[ch]"))
    for path in files:
        lines = open(path).read().splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"\s*#\s*(?:ifdef\s+|if\s+defined\s*\(\s*)(HV_BUG_\w+)", line)
            if not m:
                continue
            depth, body = 0, []
            for inner in lines[i + 1:]:
                if re.match(r"\s*#\s*if", inner):
                    depth += 1
                elif re.match(r"\s*#\s*(endif|else|elif)", inner):
                    if depth == 0:
                        break
                    if inner.strip().startswith("#endif"):
                        depth -= 1
                body.append(inner)
            blocks.setdefault(m.group(1), []).append(
                (os.path.relpath(path, ROOT) + f":{i + 1}", "\n".join(body)))
    return blocks


def macro(name: str) -> str:
    return "HV_BUG_" + name.upper().replace("-", "_")


def test_every_planted_bug_has_a_drill_and_a_marked_plant():
    blocks = planted_blocks()
    for name in bug_names():
        assert os.path.exists(os.path.join(ROOT, "drills", f"drill_{name.replace('-', '_')}.py")), \
            f"{name}: no drills/drill_{name.replace('-', '_')}.py"
        if name in FLAG_ONLY:
            continue
        assert macro(name) in blocks, f"{name}: no #ifdef {macro(name)} block in hv/"
        for where, _ in blocks[macro(name)]:
            path, line = where.rsplit(":", 1)
            before = open(os.path.join(ROOT, path)).read().splitlines()[:int(line)]
            assert any("PLANTED BUG" in b for b in before[-6:]), \
                f"{where}: the plant is not marked PLANTED BUG in the lines before it"


def test_planted_blocks_print_nothing():
    names = {macro(n) for n in bug_names()}
    for m, found in planted_blocks().items():
        assert m in names, f"#ifdef {m} in {found[0][0]}: not a planted bug the Makefile offers"
        for where, body in found:
            code = re.sub(r"/\*.*?\*/|//[^\n]*", "", body, flags=re.S)
            hit = PRINTERS.search(code)
            assert not hit, f"{where}: planted code calls {hit.group(1)}()"


def test_normal_builds_define_no_planted_bug():
    out = subprocess.run(["make", "-s", "-C", ROOT, "-pn", "HV_BUGS="], capture_output=True,
                         text=True).stdout
    flags = re.search(r"^HV_CFLAGS := (.*)$", out, re.M).group(1)
    assert "HV_BUG_" not in flags and "-mno-red-zone" in flags, flags
