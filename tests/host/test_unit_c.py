"""Runs every host C unit test binary (tests/unit/test_*.c, built by make),
and the ThreadSanitizer builds of the ring's threaded test (build/host-tsan/)."""
import glob
import os
import subprocess

import pytest

from testpaths import BUILD, ROOT

SOURCES = sorted(glob.glob(os.path.join(ROOT, "tests", "unit", "test_*.c")))

# Built with -fsanitize=thread by the Makefile (TSAN_UNITS). Only the
# threaded test: test_ring_cases and test_ring_nmi_points are
# single-threaded (nothing for TSan to check), and test_ring leaves its signal-handler writers out under TSan
# (why: the comment at the top of tests/unit/test_ring.c).
TSAN_TESTS = ["test_ring"]


@pytest.mark.parametrize("src", SOURCES, ids=[os.path.basename(s)[:-2] for s in SOURCES])
def test_c_unit(src):
    binary = os.path.join(BUILD, "host", os.path.basename(src)[:-2])
    assert os.path.exists(binary), f"{binary} not built: run make host"
    proc = subprocess.run([binary], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{binary} failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.mark.parametrize("name", TSAN_TESTS)
def test_c_unit_tsan(name):
    binary = os.path.join(BUILD, "host-tsan", name)
    assert os.path.exists(binary), f"{binary} not built: run make host"
    env = dict(os.environ)
    # Any report is a failure: exit code 66 at the end (TSan's default, made
    # explicit), and the report itself is checked for below as well.
    env["TSAN_OPTIONS"] = "exitcode=66 halt_on_error=0 " + env.get("TSAN_OPTIONS", "")
    proc = subprocess.run([binary], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, f"{binary} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert "ThreadSanitizer" not in proc.stderr, f"{binary}: TSan reports:\n{proc.stderr}"
    assert "all passed" in proc.stdout, proc.stdout
