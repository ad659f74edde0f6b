"""The QMP side of a QEMU Machine, through the project's one QMP client
(qmp/qmpclient.py; hvtools has no QMP code of its own).

    with Machine(emu="qemu", iso=..., qmp=True) as m:
        q = m.qmp_client()                     # connected, capabilities negotiated
        q.command("stop"); q.wait_event("STOP")
"""
from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

from .config import ROOT

QMP_DIR = os.path.join(ROOT, "qmp")
if QMP_DIR not in sys.path:
    sys.path.insert(0, QMP_DIR)

from qmpclient import (QMPClient, QMPClosed, QMPCommandError, QMPConnectError,  # noqa: E402
                       QMPError, QMPTimeout)

if TYPE_CHECKING:
    from .machine import Machine

__all__ = ["QMPClient", "QMPClosed", "QMPCommandError", "QMPConnectError", "QMPError",
           "QMPTimeout", "connect_machine"]


def connect_machine(m: Machine, timeout: float = 30.0, command_timeout: float = 10.0
                    ) -> QMPClient:
    """A client connected to m's QMP socket. QEMU creates the socket a
    moment after it starts: retried until `timeout`, as long as QEMU runs."""
    if m.emu != "qemu" or not m.qmp:
        raise QMPConnectError("QMP needs Machine(emu='qemu', qmp=True)")
    if m.qmp_path is None:
        raise QMPConnectError("the machine is not started")
    deadline = time.monotonic() + timeout
    while True:
        try:
            return QMPClient(f"unix:{m.qmp_path}", timeout=command_timeout)
        except QMPConnectError as e:
            if not m.alive:
                raise QMPConnectError(m.describe(f"QEMU exited before QMP connected ({e})"))
            if time.monotonic() >= deadline:
                raise QMPConnectError(m.describe(f"no QMP connection within {timeout:g}s: {e}"))
            time.sleep(0.05)
