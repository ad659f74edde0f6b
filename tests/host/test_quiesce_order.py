"""endquiesce() as compiled withdraws the quiesce request before it signals
resume (seed 001, "Redesign NMI handling"; hv/nmi/MODEL.md, SEED_ORDER).
The endquiesce-order drill reads this order from the binary to pick the
spin model it checks; kept on for every normal build, so a reordering by
hand or by the compiler is caught where the model cannot see it."""
import os

import pytest

from hvtools import binscan
from testpaths import BUILD

HV_ELF = os.path.join(BUILD, "hv.elf")
WATCHED = ("quiesce_request", "resume_signal")


@pytest.fixture(scope="module")
def order():
    if not os.path.exists(HV_ELF):
        pytest.fail(f"{HV_ELF} missing: run make all first")
    return [i.target for i in binscan.stores(HV_ELF, "endquiesce", WATCHED)]


def test_request_withdrawn_before_resume_is_signalled(order):
    # The scan sees both stores at all (a scan that sees nothing passes nothing).
    assert set(order) == set(WATCHED), order
    assert order.index("quiesce_request") < order.index("resume_signal"), order
