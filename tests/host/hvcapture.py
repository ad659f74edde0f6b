"""A real-looking serial capture of one hypervisor boot, made the way the
hypervisor makes it (hvtools' Python encoder: records.BatchEncoder +
frame.Encoder), with knobs to lose what the issue's captures lost: the
calibrated HELLO, a stream's first frame, a GUEST frame mid-line, damaged
frames at the end. Used by test_hvlog_truth.py and test_decode_interop.py."""
import random

from hvtools import frame, records
from test_hvlog_util import GRUB, Capture

UNCAL_KHZ = 1_000_000           # the first HELLO's default (hv/cpu/tsc.c)
KHZ = 2_500_000                 # the calibrated rate (BOOT, second HELLO)


def boot(ncpus=2, rounds=20, seed=1, lose_hello=False, lose_first=(), guest_gap=False,
         end_damage=0, tail=b""):
    """lose_first: (channel, cpu) streams whose first frame is lost.
    guest_gap: a GUEST frame in the middle of a line is lost.
    end_damage: that many damaged frames after the last good one.
    tail: bytes after everything (an unterminated frame)."""
    rng = random.Random(seed)
    c = Capture()
    c.raw(GRUB + b"\x00")
    c.hello(1, UNCAL_KHZ)                       # before calibration
    c.say(0, b"hv: serial up\n")
    c.say(0, b"hv: calibrating the TSC\n")
    c.flush(frame.CONSOLE, 0, drop=(frame.CONSOLE, 0) in lose_first)
    c.tsc += 25_000_000                         # 10 ms at 2.5 GHz
    f = c.enc.frame(frame.CONTROL, 0, records.encode_hello(c.crc, ncpus, KHZ))
    if not lose_hello:
        c.raw(f)
    c.event(0, "BOOT", (ncpus, KHZ))
    c.flush(frame.TRACE, 0, drop=(frame.TRACE, 0) in lose_first)
    for r in range(rounds):
        for cpu in range(ncpus):
            c.say(cpu, b"cpu%d: round %d " % (cpu, r))
            c.event(cpu, "VMEXIT", (rng.choice([10, 30, 32]), 0x7c00 + 16 * r))
            c.event(cpu, "VMRESUME", ())
            c.say(cpu, b"done\n")
            first = r == 0 and cpu != 0
            c.flush(frame.CONSOLE, cpu, drop=first and (frame.CONSOLE, cpu) in lose_first)
            c.flush(frame.TRACE, cpu, drop=first and (frame.TRACE, cpu) in lose_first)
        c.tsc += rng.randrange(1000, 100_000)
        if r == rounds // 2:
            c.guest(b"guest: built-st")
            if guest_gap:
                c.enc.frame(frame.GUEST, 0, b"ring 3 tests pa")   # lost on the line
            else:
                c.guest(b"ring 3 tests pa")
            c.guest(b"ssed: hello\n")
    for k in range(end_damage):
        c.corrupt_copy(bytes(range(200, 240)) + bytes([k]))
    c.raw(tail)
    return c
