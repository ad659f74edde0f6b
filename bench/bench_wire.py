#!/usr/bin/python3
"""Wire size and decode speed of the framed trace vs the seed's text tokens.

A realistic event mix for 4 CPUs (VM exits with reason + guest rip and the
resume, NMI bursts, quiesce rounds, hypercalls, console lines) is encoded
(1) as the seed's text tokens, "{cpu,event,arg,...}" per event plus raw
console lines, and (2) as framed batches (COBS + CRC frames of wire batch
payloads, wire version 2), with full batches and with small ones (a drain
pass every 8 records). The batches come from records.BatchEncoder, the
Python twin of hv/trace/wire.c's encoder: tests/host/test_wire_interop.py
re-encodes C-made batches with it and checks the bytes are the same. Then the Python decoder's
throughput is measured on a large captured stream. Runs in a few seconds.
"""
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host-tools"))

from hvtools import catalog, frame, records  # noqa: E402

CPUS = 4
TSC_HZ = 2_000_000_000
WIRE_GOAL = 6.0      # issue 12: bytes per trace event on the line, framing included


def workload(cat, n_events, seed=1):
    """[(cpu, seq, tsc, name, args or text)] in ring order per CPU."""
    rng = random.Random(seed)
    hot = [0xffffffff81000000 + rng.randrange(1 << 22) for _ in range(40)]
    reasons = [(10, 30), (32, 20), (31, 10), (30, 15), (48, 8), (12, 6), (1, 8), (18, 3)]
    rs, ws = zip(*reasons)
    seq = [0] * CPUS
    tsc = [rng.randrange(1 << 40) for _ in range(CPUS)]
    out = []

    def emit(cpu, name, payload, dt):
        tsc[cpu] += dt
        out.append((cpu, seq[cpu], tsc[cpu], name, payload))
        seq[cpu] += 1

    while len(out) < n_events:
        cpu = rng.randrange(CPUS)
        r = rng.random()
        if r < 0.80:
            rip = rng.choice(hot) if rng.random() < 0.9 else 0xffffffff81000000 + rng.randrange(1 << 24)
            emit(cpu, "VMEXIT", (rng.choices(rs, ws)[0], rip), rng.randrange(2000, 40000))
            emit(cpu, "VMRESUME", (), rng.randrange(500, 3000))
        elif r < 0.88:
            rip = rng.choice(hot)
            emit(cpu, "NMI_ENTER", (rip, 1), rng.randrange(100, 5000))
            emit(cpu, "NMI_EXIT", (rip, 1), rng.randrange(300, 900))
            emit(cpu, "NMI_INJECTED", (rip, 1), rng.randrange(100, 500))
            emit(cpu, "NMI_WINDOW", (rip, 0), rng.randrange(1000, 9000))
        elif r < 0.91:
            for c in range(CPUS):
                emit(c, "QUIESCE_JOINED", (cpu, rng.randrange(2000, 90000)), rng.randrange(100, 9000))
            emit(cpu, "QUIESCE_RELEASED", (cpu, rng.randrange(10000, 400000)), 5000)
            emit(cpu, "CONSOLE_TEXT", b"CPU(0x%02x): all CPUs quiesced successfully.\n" % cpu, 100)
        elif r < 0.95:
            emit(cpu, "HYPERCALL", (rng.randrange(1, 16), rng.randrange(1 << 32), 0, 0), 3000)
        else:
            emit(cpu, "CONSOLE_TEXT", b"CPU(0x%02x): got quiesce signal...\n" % cpu, 200)
    return out


def seed_text(cat, evs):
    """The seed's style: a token per event, console text as is."""
    parts = []
    for cpu, seq, tsc, name, a in evs:
        if name == "CONSOLE_TEXT":
            parts.append(a)
            continue
        ev = cat.by_name[name]
        toks = [str(cpu), str(ev.id)]
        for arg, v in zip(ev.args, a):
            toks.append(f"{v:#x}" if arg.fmt in ("x", "sym") else str(v))
        parts.append(("{" + ",".join(toks) + "}\n").encode())
    return b"".join(parts)


def framed(cat, evs, drain_every=None):
    """Per-CPU console and trace batches, flushed when full (or every N)."""
    enc = frame.Encoder()
    out = bytearray(b"\x00")
    out += enc.frame(frame.CONTROL, 0, records.encode_hello(cat.crc, CPUS, TSC_HZ // 1000))
    b = {(c, ch): records.BatchEncoder(cat) for c in range(CPUS)
         for ch in (frame.CONSOLE, frame.TRACE)}
    pending = [0] * CPUS
    text_seq = [0] * CPUS
    ev_seq = [0] * CPUS
    for cpu, seq, tsc, name, a in evs:
        # the hypervisor keeps text and events in two rings per CPU, each
        # with its own sequence numbers
        if name == "CONSOLE_TEXT":
            ch, s = frame.CONSOLE, text_seq[cpu]
            text_seq[cpu] += 1
        else:
            ch, s = frame.TRACE, ev_seq[cpu]
            ev_seq[cpu] += 1
        bb = b[(cpu, ch)]
        add = (lambda: bb.add_text(s, 0, tsc, a)) if ch == frame.CONSOLE else \
              (lambda: bb.add_event(s, 0, cat.by_name[name].id, tsc, a))
        if not add():
            out += enc.frame(ch, cpu, bytes(bb.buf))
            bb.reset()
            add()
        pending[cpu] += 1
        if drain_every and pending[cpu] >= drain_every:
            for c2 in (frame.CONSOLE, frame.TRACE):
                x = b[(cpu, c2)]
                if x.count:
                    out += enc.frame(c2, cpu, bytes(x.buf))
                    x.reset()
            pending[cpu] = 0
    for (cpu, ch), bb in b.items():
        if bb.count:
            out += enc.frame(ch, cpu, bytes(bb.buf))
    return bytes(out)


def main():
    t_start = time.time()
    cat = catalog.default()
    evs = workload(cat, 60000)
    n = len(evs)
    n_text = sum(1 for e in evs if e[3] == "CONSOLE_TEXT")
    text = seed_text(cat, evs)
    full = framed(cat, evs)
    small = framed(cat, evs, drain_every=8)

    def ev_only(stream_evs):
        return [e for e in stream_evs if e[3] != "CONSOLE_TEXT"]
    only = ev_only(evs)
    t_only = seed_text(cat, only)
    f_only = framed(cat, only)
    s_only = framed(cat, only, drain_every=8)
    vmx = [e for e in evs if e[3] in ("VMEXIT",)]
    t_vmx = seed_text(cat, vmx)
    f_vmx = framed(cat, vmx)

    print(f"wire bytes, {n} records on {CPUS} CPUs ({n_text} console lines); "
          "framed = COBS+CRC frames incl. tsc and seq per record")
    print(f"{'stream':<34}{'seed text':>12}{'framed full':>13}{'framed /8':>11}{'ratio':>8}")
    rows = [("all records (bytes/record)", text, full, small, n),
            ("trace events only (bytes/event)", t_only, f_only, s_only, len(only)),
            ("VMEXIT(reason,rip) only", t_vmx, f_vmx, framed(cat, vmx, 8), len(vmx))]
    for label, t, f, s, k in rows:
        print(f"{label:<34}{len(t) / k:>12.2f}{len(f) / k:>13.2f}{len(s) / k:>11.2f}"
              f"{len(t) / len(f):>7.2f}x")
    print(f"{'total bytes':<34}{len(text):>12}{len(full):>13}{len(small):>11}")
    per_event = len(f_only) / len(only)
    print(f"goal: <= {WIRE_GOAL:.0f} wire bytes per trace event, framing included (framed full, "
          f"trace events only): {per_event:.2f}, {'met' if per_event <= WIRE_GOAL else 'NOT met'}")
    secs = len(full) * 10 / 115200
    print(f"at 115200 baud: seed text {len(text) * 10 / 115200:.1f} s, framed {secs:.1f} s "
          f"for the same {n} records")

    # ---- decode throughput on a large captured stream -------------------
    reps = max(4, (8 << 20) // len(full))
    big = full * reps                                   # ~8 MB
    t0 = time.perf_counter()
    fd = frame.FrameDecoder()
    frames = 0
    for i in range(0, len(big), 65536):
        frames += len(fd.feed(big[i:i + 65536]))
    t1 = time.perf_counter()
    mid = full * (reps // 4)       # whole copies: no frame cut in two
    t2 = time.perf_counter()
    out, fd2, td = records.decode_stream(mid, cat, strict=True)
    t3 = time.perf_counter()
    print()
    print("Python decoder throughput")
    print(f"{'stage':<34}{'MB':>8}{'seconds':>10}{'MB/s':>9}{'items/s':>12}")
    print(f"{'frames (COBS+CRC)':<34}{len(big) / 1e6:>8.2f}{t1 - t0:>10.2f}"
          f"{len(big) / 1e6 / (t1 - t0):>9.1f}{frames / (t1 - t0):>12.0f}")
    print(f"{'frames + records':<34}{len(mid) / 1e6:>8.2f}{t3 - t2:>10.2f}"
          f"{len(mid) / 1e6 / (t3 - t2):>9.1f}{td.records / (t3 - t2):>12.0f}")
    assert fd.stats.total_errors == 0 and fd2.stats.total_errors == 0
    print(f"(bench ran in {time.time() - t_start:.1f} s)")


if __name__ == "__main__":
    main()
