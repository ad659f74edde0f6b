"""Shared pytest setup: the --run-stress switch. Paths and markers are in
the repository's pytest.ini."""
import os

import pytest

from testpaths import BUILD, ROOT  # noqa: F401  (re-exported for old imports)

# Every capture a test decodes through hvtools.session.Session is decoded by
# both the C core and the Python reference, which must agree (issue 12).
os.environ.setdefault("HVTOOLS_CROSSCHECK", "1")


def pytest_addoption(parser):
    parser.addoption("--run-stress", action="store_true",
                     help="run the long stress matrices (make stress)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-stress"):
        return
    skip = pytest.mark.skip(reason="stress matrix: run with make stress")
    for item in items:
        if "stress" in item.keywords:
            item.add_marker(skip)
