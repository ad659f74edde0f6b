"""Shared pytest setup: markers, paths, the --run-stress switch."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testpaths import BUILD, ROOT  # noqa: E402  (re-exported for old imports)

sys.path.insert(0, os.path.join(ROOT, "host-tools"))


def pytest_addoption(parser):
    parser.addoption("--run-stress", action="store_true",
                     help="run the long stress matrices (make stress)")


def pytest_configure(config):
    config.addinivalue_line("markers", "emulator: boots Bochs or QEMU")
    config.addinivalue_line("markers", "stress: long matrix, only with --run-stress")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-stress"):
        return
    skip = pytest.mark.skip(reason="stress matrix: run with make stress")
    for item in items:
        if "stress" in item.keywords:
            item.add_marker(skip)
