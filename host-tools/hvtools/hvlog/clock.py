"""Time base: TSC -> microseconds since the first record ("boot"), using the
TSC rate from the HELLO frame (or the BOOT event's tsc_khz)."""
from __future__ import annotations


class Clock:
    def __init__(self) -> None:
        self.t0: int | None = None
        self.khz: int = 0

    def see(self, tsc: int) -> None:
        if self.t0 is None:
            self.t0 = tsc

    def rel(self, tsc: int) -> int:
        return tsc - (self.t0 if self.t0 is not None else tsc)

    def us(self, tsc: int) -> float:
        """Microseconds since t0, or TSC cycles since t0 when the rate is unknown."""
        d = self.rel(tsc)
        return d * 1000.0 / self.khz if self.khz else float(d)

    @property
    def unit(self) -> str:
        return "us" if self.khz else "cy"

    def label(self, tsc: int | None) -> str:
        if tsc is None:
            return " " * 14
        if self.khz:
            return f"{self.rel(tsc) * 1000.0 / self.khz:12.1f}us"
        return f"{self.rel(tsc):12d}cy"
