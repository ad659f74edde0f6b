"""The hypervisor's layers point one way (hv/layers.txt), its functions and
files stay short. Checked on the sources (#include lines) and on the built
objects (every undefined symbol resolved to the folder that defines it)."""
import glob
import os
import re
import subprocess

import pytest

from testpaths import BUILD, ROOT

HV = os.path.join(ROOT, "hv")
# Hypapps that live at the top level but link into hv.elf as a layer of
# their own (hv/layers.txt); their objects are under build/hv/<name>/.
TOP_LAYERS = ["trustvisor"]
MAX_FUNCTION_LINES = 80
MAX_FILE_LINES = 500
# The formatter is one state machine; splitting it would hide its logic.
LONG_FUNCTION_ALLOWED = {("hv/lib/fmt.c", "vsnprintf")}


def layers() -> list[str]:
    with open(os.path.join(HV, "layers.txt")) as f:
        return [line.split()[0] for line in f if line.strip() and not line.startswith("#")]


RANK = {name: i for i, name in enumerate(layers())}
INCLUDE_HEADERS = {os.path.basename(p) for p in glob.glob(os.path.join(HV, "include", "*.h"))}


def folder_of(path: str) -> str:
    for top in TOP_LAYERS:
        if os.path.relpath(path, ROOT).split(os.sep)[0] == top:
            return top
    rel = os.path.relpath(path, HV)
    return rel.split(os.sep)[0] if os.sep in rel else "boot"


def hv_sources(exts=(".c", ".h", ".S")) -> list[str]:
    tops = [p for top in TOP_LAYERS for p in glob.glob(os.path.join(ROOT, top, "*"))]
    return sorted(p for p in glob.glob(os.path.join(HV, "**", "*"), recursive=True) + tops
                  if p.endswith(exts))


def include_edges() -> list[tuple[str, str, str]]:
    edges = []
    for path in hv_sources():
        src = folder_of(path)
        for line in open(path, errors="replace"):
            m = re.match(r'\s*#\s*include\s+([<"])([^>"]+)[>"]', line)
            if not m:
                continue
            kind, name = m.groups()
            if kind == '"' and "/" in name:
                dst = name.split("/")[0]
            elif kind == "<" and name in INCLUDE_HEADERS:
                dst = "include"
            else:
                continue    # compiler headers, same-folder includes
            if dst != src:
                edges.append((src, dst, f"{os.path.relpath(path, ROOT)}: {line.strip()}"))
    return edges


def link_edges() -> list[tuple[str, str, str]]:
    objroot = os.path.join(BUILD, "hv")
    # Only the objects of today's sources: a build directory may still hold
    # objects of files that were moved or removed since.
    objs = [o for top in ["hv"] + TOP_LAYERS
            for o in glob.glob(os.path.join(objroot, top, "**", "*.o"), recursive=True)
            if any(os.path.exists(os.path.join(ROOT, os.path.relpath(o, objroot))[:-2] + ext)
                   for ext in (".c", ".S"))]
    if not objs:
        pytest.fail(f"no hypervisor objects under {objroot}: run make first")
    defined, used = {}, {}
    for o in objs:
        src = folder_of(os.path.join(ROOT, os.path.relpath(o, objroot)))
        out = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "U":
                used.setdefault(src, set()).add((parts[1], os.path.basename(o)))
            elif len(parts) == 3 and parts[1] in "TDBRC":
                defined[parts[2]] = src
    edges = []
    for src, syms in used.items():
        for sym, obj in syms:
            dst = defined.get(sym)
            if dst and dst != src:
                edges.append((src, dst, f"{obj} uses {sym}"))
    return edges


def check_downward(edges: list[tuple[str, str, str]]) -> list[str]:
    bad = []
    for src, dst, why in edges:
        if src not in RANK or dst not in RANK:
            bad.append(f"folder not in hv/layers.txt: {src if src not in RANK else dst} ({why})")
        elif RANK[dst] >= RANK[src]:
            bad.append(f"{src} -> {dst} goes up the layers: {why}")
    return bad


def test_every_folder_has_a_layer():
    folders = {folder_of(p) for p in hv_sources()}
    assert folders <= set(RANK), f"add to hv/layers.txt: {sorted(folders - set(RANK))}"


def test_includes_point_down():
    assert check_downward(include_edges()) == []


def test_links_point_down():
    assert check_downward(link_edges()) == []


def test_low_layers_include_no_vmx_headers():
    low = {"console", "trace", "cpu", "smp", "mem"}
    high = {"vmx", "vapic", "nmi"}
    bad = [why for src, dst, why in include_edges() if src in low and dst in high]
    assert bad == []


def test_layer_check_catches_an_upward_edge():
    # The checker itself: an include of vmx from console must be refused.
    assert check_downward([("console", "vmx", "console.c: #include \"vmx/vmcs.h\"")])
    assert check_downward([("newthing", "lib", "x")])
    # and a hypapp below TrustVisor may not call it
    assert check_downward([("hypapp", "trustvisor", "hypapp.c uses trustvisor_register")])


def functions(path: str):
    """(name, first line, length) of each top-level function body in a C
    file: a line opening '{' in column 0 after a signature, to the matching
    '}' in column 0."""
    lines = open(path, errors="replace").read().split("\n")
    for i, line in enumerate(lines):
        if line != "{":
            continue
        sig = " ".join(lines[max(0, i - 3):i])
        m = re.search(r"(\w+)\s*\([^;{}]*\)\s*(__attribute__\(\(.*\)\))?\s*$", sig)
        if not m:
            continue
        for j in range(i + 1, len(lines)):
            if lines[j] == "}":
                yield m.group(1), i + 1, j - i + 1
                break


def test_functions_are_short():
    long = []
    for path in hv_sources((".c",)):
        rel = os.path.relpath(path, ROOT)
        for name, line, n in functions(path):
            if n > MAX_FUNCTION_LINES and (rel, name) not in LONG_FUNCTION_ALLOWED:
                long.append(f"{rel}:{line} {name}: {n} lines")
    assert long == []


def test_function_finder_sees_functions():
    names = {name for name, _, _ in functions(os.path.join(HV, "lib", "fmt.c"))}
    assert "vsnprintf" in names


def test_files_are_short():
    paths = hv_sources() + [p for p in glob.glob(os.path.join(ROOT, "host-tools", "**", "*"),
                                                 recursive=True)
                            if os.path.isfile(p) and "__pycache__" not in p]
    long = [f"{os.path.relpath(p, ROOT)}: {n} lines" for p in paths
            if (n := sum(1 for _ in open(p, errors="replace"))) > MAX_FILE_LINES]
    assert long == []
