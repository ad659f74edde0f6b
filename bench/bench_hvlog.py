#!/usr/bin/python3
"""Decode throughput of hvlog's full path (frames -> records -> console
lines -> rendered plain text into a null sink) next to frame-only decoding,
on a synthetic ~20 MB capture (4 CPUs, VM exits, NMIs, console lines).
Usage: bench_hvlog.py [MB]   (default 20)."""
import io
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host-tools"))

from hvtools import catalog, frame, records  # noqa: E402
from hvtools.hvlog import LiveDecoder  # noqa: E402


class Null(io.TextIOBase):
    def write(self, s):
        return len(s)


def make_stream(cat, mb, cpus=4, seed=1):
    rng = random.Random(seed)
    enc = frame.Encoder()
    out = bytearray(b"\x00" + enc.frame(frame.CONTROL, 0,
                                        records.encode_hello(cat.crc, cpus, 2_000_000)))
    seq = {}
    tsc = 1 << 32
    vmexit, resume, nmi = (cat.id_of(n) for n in ("VMEXIT", "VMRESUME", "NMI_ENTER"))
    hot = [0xffffffff81000000 + rng.randrange(1 << 20) for _ in range(32)]
    block = bytearray()
    while len(block) < 2_000_000:          # one block of ~2 MB, repeated
        cpu = rng.randrange(cpus)
        for ch in (frame.TRACE, frame.CONSOLE):
            b = records.BatchEncoder(cat)
            while True:
                s = seq.get((ch, cpu), 0)
                tsc += rng.randrange(200, 4000)
                if ch == frame.TRACE:
                    r = rng.random()
                    ok = (b.add_event(s, 0, vmexit, tsc, (rng.choice((10, 30, 32)), rng.choice(hot)))
                          if r < 0.6 else b.add_event(s, 0, resume, tsc, ()) if r < 0.9
                          else b.add_event(s, 0, nmi, tsc, (rng.choice(hot), 1)))
                else:
                    ok = b.add_text(s, 0, tsc, b"cpu%d: handled exit %d at %#x\n"
                                    % (cpu, s, rng.choice(hot)))
                if not ok or b.count >= (40 if ch == frame.TRACE else 8):
                    break
                seq[(ch, cpu)] = s + 1
            block += enc.frame(ch, cpu, bytes(b.buf))
    reps = max(1, round(mb * 1e6 / len(block)))
    return bytes(out + block * reps)     # seq gaps at the seams are fine here


def timed(fn):
    t = time.perf_counter()
    n = fn()
    return time.perf_counter() - t, n


def main():
    mb = float(sys.argv[1]) if len(sys.argv) > 1 else 20
    cat = catalog.default()
    data = make_stream(cat, mb)
    size = len(data) / 1e6
    chunk = 65536

    def frames_only():
        d = frame.FrameDecoder()
        n = 0
        for i in range(0, len(data), chunk):
            n += len(d.feed(data[i:i + chunk]))
        return n

    def records_only():
        d = frame.FrameDecoder()
        td = records.TraceDecoder(cat, strict=False)
        n = 0
        for i in range(0, len(data), chunk):
            for f in d.feed(data[i:i + chunk]):
                n += len(td.frame(f))
        return n

    def hvlog_full():
        d = LiveDecoder(cat, out=Null(), color=False, force_catalog=True)
        n = 0
        for i in range(0, len(data), chunk):
            n += len(d.feed(data[i:i + chunk]))
        return n + len(d.close())

    print(f"hvlog decode throughput, {size:.1f} MB synthetic capture, 4 CPUs")
    print(f"{'path':<44}{'seconds':>9}{'MB/s':>9}{'items':>11}")
    for name, fn in (("frames only (FrameDecoder)", frames_only),
                     ("frames -> records (TraceDecoder)", records_only),
                     ("hvlog: records -> lines -> plain text", hvlog_full)):
        t, n = timed(fn)
        print(f"{name:<44}{t:9.2f}{size / t:9.2f}{n:11d}")


if __name__ == "__main__":
    main()
