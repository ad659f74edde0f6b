"""What a run raises. Every message carries the serial tail and log excerpts
(Machine.describe)."""


class EmuError(Exception):
    """Base class; the message carries the serial tail and log excerpts."""


class EmuTimeout(EmuError):
    pass


class EmuDied(EmuError):
    pass
