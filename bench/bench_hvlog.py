#!/usr/bin/python3
"""Decode throughput of hvlog, the Python decoder and the C core
(libhvtrace.so: hv/trace/decode.c + host-tools/libhvtrace/) side by side in
one run, on a synthetic ~20 MB capture (4 CPUs, VM exits, NMIs, console
lines): frames only, frames -> records (as C structs, and as the Python
Record objects the tests read), and hvlog's full path (records -> console
lines -> plain text into a null sink, as with -q off).
Usage: bench_hvlog.py [MB]   (default 20)."""
import io
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host-tools"))

from hvtools import catalog, frame, native, records  # noqa: E402
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


def paths(cat, data, chunk=65536):
    """name -> (Python fn, C fn, goal for C in MB/s or None)."""
    def feed_all(dec, fn=len):
        n = 0
        for i in range(0, len(data), chunk):
            n += fn(dec.feed(data[i:i + chunk]))
        return n

    def py_records():
        d, td = frame.FrameDecoder(), records.TraceDecoder(cat, strict=False)
        return feed_all(d, lambda fs: sum(len(td.frame(f)) for f in fs))

    def c_structs():
        d = native.NativeFrameDecoder(cat)
        return sum(k for i in range(0, len(data), chunk) for k in d.raw(data[i:i + chunk]))

    def c_objects():
        return feed_all(native.NativeFrameDecoder(cat),
                        lambda fs: sum(len(f.items or ()) + 1 for f in fs))

    def text(fast, out=True):
        def run():
            d = LiveDecoder(cat, out=Null() if out else None, color=False,
                            force_catalog=True, native=fast, fast=fast)
            n = feed_all(d)
            d.close()
            return n
        return run

    return [("frames only | C: frames + records as C structs",
             lambda: feed_all(frame.FrameDecoder()), c_structs, None),
            ("frames -> records (C structs)", py_records, c_structs, 20),
            ("frames -> records (Python objects)", py_records, c_objects, None),
            ("hvlog -q: decode, count, no text", text(False, False), text(True, False), None),
            ("hvlog, -q off: plain text out", text(False), text(True), 10)]


def main():
    mb = float(sys.argv[1]) if len(sys.argv) > 1 else 20
    cat = catalog.default()
    data = make_stream(cat, mb)
    size = len(data) / 1e6
    have_c = native.load(cat) is not None
    print(f"hvlog decode throughput, {size:.1f} MB synthetic capture, 4 CPUs; "
          f"Python decoder vs the C core (libhvtrace.so)")
    if not have_c:
        print(f"C decoder unavailable: {native.why_not(cat)}")
    print(f"{'path':<50}{'Python MB/s':>12}{'C MB/s':>9}{'C/Py':>7}  goal (C)")
    for name, py, c, goal in paths(cat, data):
        tp, _ = timed(py)
        mp = size / tp
        if not have_c:
            print(f"{name:<50}{mp:12.2f}{'-':>9}{'-':>7}")
            continue
        tc, _ = timed(c)
        mc = size / tc
        g = "" if goal is None else f">= {goal} MB/s: {'ok' if mc >= goal else 'MISSED'}"
        print(f"{name:<50}{mp:12.2f}{mc:9.2f}{mc / mp:6.1f}x  {g}")


if __name__ == "__main__":
    main()
