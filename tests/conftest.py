"""Shared pytest setup: the --run-stress switch. Paths and markers are in
the repository's pytest.ini."""
import pytest

from testpaths import BUILD, ROOT  # noqa: F401  (re-exported for old imports)


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
