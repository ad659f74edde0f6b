"""Time base: TSC -> microseconds since the first record ("boot").

The rate: the hypervisor's first HELLO (seq 0) is sent before it has
calibrated its TSC and announces its 1 GHz default (hv/cpu/tsc.c); the
calibrated rate comes with the second HELLO and with the BOOT event
(tsc_khz). Until a trusted rate is known, times use the provisional one and
their labels end in '?' (uncalibrated); once it is known, every later label
uses it, and exports made at the end (--perfetto, --sequence) convert all
times with it, so early times are corrected there. A restart forgets the
time base (the new hypervisor's TSC counts from its own start)."""
from __future__ import annotations

UNCALIBRATED_KHZ = 1_000_000        # hv/cpu/tsc.c: "until calibrated: assume 1 GHz"


class Clock:
    def __init__(self) -> None:
        self.t0: int | None = None
        self.khz: int = 0
        self.calibrated = False

    def see(self, tsc: int) -> None:
        if self.t0 is None:
            self.t0 = tsc

    def hello(self, khz: int, seq: int) -> None:
        """A HELLO's rate: trusted unless it is the first HELLO's default."""
        if not khz or self.calibrated:
            if khz and seq != 0:
                self.khz = khz
            return
        self.khz = khz
        self.calibrated = not (seq == 0 and khz == UNCALIBRATED_KHZ)

    def boot(self, khz: int) -> None:
        """The BOOT event's tsc_khz: measured, so trusted."""
        if khz:
            self.khz, self.calibrated = khz, True

    def restart(self) -> None:
        self.t0, self.khz, self.calibrated = None, 0, False

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
            if not self.calibrated:
                return f"{self.rel(tsc) * 1000.0 / self.khz:11.1f}us?"
            return f"{self.rel(tsc) * 1000.0 / self.khz:12.1f}us"
        return f"{self.rel(tsc):12d}cy"
