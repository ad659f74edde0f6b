"""Paths shared by all tests (importable from any test folder: tests/ is on
sys.path through pytest.ini's pythonpath)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
