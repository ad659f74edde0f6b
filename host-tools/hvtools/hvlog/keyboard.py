"""Keyboard -> guest: typed bytes become GUEST frames (cpu 0). The escape
key Ctrl-] starts a command: q quits, Ctrl-] sends a literal Ctrl-],
s prints the summary so far, ? prints help; anything else is sent as is."""
from __future__ import annotations

from .. import frame as _frame

ESCAPE = 0x1D           # Ctrl-]
HELP = "hvlog keys: Ctrl-] q quit | Ctrl-] s summary | Ctrl-] Ctrl-] send Ctrl-] | Ctrl-] ? help"


def guest_frames(encoder: _frame.Encoder, data: bytes, ftype: int = _frame.GUEST) -> bytes:
    """bytes -> frames of at most MAX_PAYLOAD bytes each, cpu 0."""
    out = bytearray()
    for i in range(0, len(data), _frame.MAX_PAYLOAD):
        out += encoder.frame(ftype, 0, data[i:i + _frame.MAX_PAYLOAD])
    return bytes(out)


class KeyForwarder:
    def __init__(self, encoder: _frame.Encoder) -> None:
        self.encoder = encoder
        self.escaped = False

    def feed(self, data: bytes) -> tuple[bytes, list[str]]:
        """Typed bytes -> (wire bytes for the hypervisor, actions)."""
        send = bytearray()
        actions = []
        for b in data:
            if self.escaped:
                self.escaped = False
                c = chr(b).lower()
                if c == "q" or b in (0x03, 0x04):
                    actions.append("quit")
                    break
                elif c == "s":
                    actions.append("summary")
                elif c == "?" or c == "h":
                    actions.append("help")
                elif b == ESCAPE:
                    send.append(ESCAPE)
                else:
                    send += bytes((ESCAPE, b))
            elif b == ESCAPE:
                self.escaped = True
            else:
                send.append(b)
        return (guest_frames(self.encoder, bytes(send)) if send else b""), actions
