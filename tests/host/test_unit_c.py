"""Runs every host C unit test binary (tests/unit/test_*.c, built by make)."""
import glob
import os
import subprocess

import pytest

from testpaths import BUILD, ROOT

SOURCES = sorted(glob.glob(os.path.join(ROOT, "tests", "unit", "test_*.c")))


@pytest.mark.parametrize("src", SOURCES, ids=[os.path.basename(s)[:-2] for s in SOURCES])
def test_c_unit(src):
    binary = os.path.join(BUILD, "host", os.path.basename(src)[:-2])
    assert os.path.exists(binary), f"{binary} not built: run make host"
    proc = subprocess.run([binary], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{binary} failed:\n{proc.stdout}\n{proc.stderr}"
