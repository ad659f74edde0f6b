"""C <-> Python agreement for the framing codec and the trace wire format.

The C side is build/host/test_frame and build/host/test_wire in their helper
modes (see the comments at the top of tests/unit/test_frame.c/test_wire.c)."""
import os
import random
import subprocess

import pytest

from testpaths import BUILD
from hvtools import catalog, frame, records

TEST_FRAME = os.path.join(BUILD, "host", "test_frame")
TEST_WIRE = os.path.join(BUILD, "host", "test_wire")


def run(binary, *args, stdin=b""):
    assert os.path.exists(binary), f"{binary} not built: run make {os.path.relpath(binary)}"
    p = subprocess.run([binary, *args], input=stdin, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stdout, p.stderr


def py_lines(data: bytes):
    """Python decoder output in the C --decode line format."""
    dec = frame.FrameDecoder()
    lines = []
    for ev in dec.feed(data):
        if isinstance(ev, frame.Frame):
            lines.append(f"F {ev.type} {ev.cpu} {ev.seq} {ev.payload.hex()}")
        else:
            lines.append(f"E {ev.kind} {ev.offset} {ev.length}")
    s = dec.stats
    lines.append(f"S {s.frames} {s.total_errors} {s.bytes_discarded}")
    return lines


def c_lines(data: bytes):
    out, _ = run(TEST_FRAME, "--decode", stdin=data)
    return out.decode().splitlines()


def corrupt(data: bytes, rng: random.Random, n: int) -> bytes:
    b = bytearray(data)
    for _ in range(n):
        op = rng.randrange(4)
        pos = rng.randrange(len(b))
        if op == 0:
            b[pos] ^= rng.randrange(1, 256)
        elif op == 1:
            del b[pos:pos + rng.randrange(1, 80)]
        elif op == 2:
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
        else:
            b[pos] = 0
    return bytes(b)


def test_c_frames_decode_in_python():
    data, _ = run(TEST_FRAME, "--emit", "2000", "42")
    lines = py_lines(data)
    assert lines[-1].startswith("S 2000 0 0")
    assert lines == c_lines(data)


def test_python_frames_decode_in_c_and_bytes_agree():
    rng = random.Random(5)
    enc = frame.Encoder()
    chunks = []
    for _ in range(1500):
        n = rng.choice([0, 1, 253, 254, 255, 512, rng.randrange(600) % 513])
        kind = rng.randrange(4)
        payload = (bytes(rng.randrange(256) for _ in range(n)) if kind == 0 else
                   bytes(n) if kind == 1 else b"\xff" * n if kind == 2 else
                   bytes(rng.choice([0, 1, 0xff, 0x7f]) for _ in range(n)))
        chunks.append(enc.frame(rng.randrange(8), rng.randrange(4), payload))
    data = b"".join(chunks)
    assert py_lines(data) == c_lines(data)
    assert c_lines(data)[-1] == "S 1500 0 0"


def test_c_emitted_bytes_equal_python_encoding():
    data, _ = run(TEST_FRAME, "--emit", "500", "9")
    pos = 0
    for ev in frame.FrameDecoder().feed(data):
        again = frame.encode(ev.type, ev.cpu, ev.seq, ev.payload)
        assert data[ev.offset:ev.offset + len(again)] == again
        pos = ev.offset + len(again)
    assert pos == len(data)


@pytest.mark.parametrize("seed", range(6))
def test_corrupted_stream_same_verdicts(seed):
    rng = random.Random(seed)
    data, _ = run(TEST_FRAME, "--emit", "800", str(seed + 1))
    bad = b"GRUB loading.\r\n" + corrupt(data, rng, 40) + bytes(rng.randrange(1, 256) for _ in range(3000))
    c = c_lines(bad)
    p = py_lines(bad)
    assert p == c
    errors = [l for l in c if l.startswith("E ")]
    assert errors and errors[0] == "E crc 0 15" or errors[0].startswith("E ")
    # every frame delivered was really sent (no bad frame reaches a channel)
    sent = set(l for l in c_lines(data) if l.startswith("F "))
    assert all(l in sent for l in c if l.startswith("F "))


def _rec_line(r):
    if r.text is not None:
        return f"T {r.cpu} {r.seq} {r.tsc} {r.lost} {r.text.hex()}"
    return " ".join(["R", str(r.cpu), str(r.seq), str(r.tsc), str(r.lost), str(r.id)] +
                    [str(a) for a in r.args])


def _sorted(lines):
    def key(l):
        f = l.split()
        return (f[0] != "H", int(f[1]) if f[0] != "H" else 0, int(f[2]) if f[0] != "H" else 0)
    return sorted(lines, key=key)


def test_c_trace_decodes_in_python():
    data, expected = run(TEST_WIRE, "--emit-trace", "6000", "3")
    cat = catalog.default()
    out, fd, td = records.decode_stream(data, cat, strict=False)
    assert fd.stats.total_errors == 0
    lines = []
    for it in out:
        if isinstance(it, records.Hello):
            lines.append(f"H {it.catalog_crc:#010x} {it.ncpus} {it.tsc_khz}")
        elif isinstance(it, records.Record):
            lines.append(_rec_line(it))
    want = expected.decode().splitlines()
    assert len(lines) == len(want) == 6001
    assert _sorted(lines) == _sorted(want)
    # the foreign catalogue CRC in the C test hello is noticed
    assert any(isinstance(i, records.Notice) and "mismatch" in i.message for i in out)
    with pytest.raises(records.CatalogMismatch):
        records.decode_stream(data, cat, strict=True)
    # ring losses are reported exactly
    ring = [i for i in out if isinstance(i, records.Loss) and i.kind == "ring"]
    assert ring and sum(l.count for l in ring) == td.ring_lost
    assert all(l.before_seq - l.after_seq - 1 == l.count for l in ring)


def test_python_batches_byte_identical_to_c():
    """Re-encode each C batch with the Python encoder: same bytes."""
    data, _ = run(TEST_WIRE, "--emit-trace", "4000", "11")
    cat = catalog.default()
    n = 0
    for f in frame.FrameDecoder().feed(data):
        if f.type not in (frame.CONSOLE, frame.TRACE):
            continue
        recs, err = records.decode_batch(f.payload, cat, f.cpu, f.type)
        assert err is None
        enc = records.BatchEncoder(cat)
        for r in recs:
            if r.text is not None:
                assert enc.add_text(r.seq, r.lost, r.tsc, r.text)
            else:
                assert enc.add_event(r.seq, r.lost, r.id, r.tsc, r.args)
        assert bytes(enc.buf) == f.payload
        n += 1
    assert n > 50


def test_python_trace_decodes_in_c():
    cat = catalog.default()
    rng = random.Random(77)
    ids = [e.id for e in cat.events.values() if not e.is_text]
    fenc = frame.Encoder()
    stream = bytearray(b"\x00")
    stream += fenc.frame(frame.CONTROL, 0, records.encode_hello(cat.crc, 2, 3000000))
    want = [f"H {cat.crc:#010x} 2 3000000"]
    rip = 0xffffffff81000000
    for cpu in range(2):
        seq, tsc = rng.randrange(1 << 20), rng.randrange(1 << 50)
        batches = {frame.CONSOLE: records.BatchEncoder(cat), frame.TRACE: records.BatchEncoder(cat)}
        for _ in range(3000):
            lost = rng.randrange(1, 50) if rng.random() < 0.02 else 0
            seq += lost
            tsc += rng.randrange(-50, 30000)
            if rng.random() < 0.15:
                ch, text = frame.CONSOLE, bytes(rng.randrange(256) for _ in range(rng.randrange(80)))
                args = None
            else:
                ch, eid = frame.TRACE, rng.choice(ids)
                rip += rng.randrange(-3000, 3000)
                args = tuple(rng.choice([rip, rng.randrange(64), rng.getrandbits(64), 0])
                             for _ in range(cat.nargs(eid)))
            b = batches[ch]
            add = (lambda: b.add_text(seq, lost, tsc, text)) if args is None else \
                  (lambda: b.add_event(seq, lost, eid, tsc, args))
            if not add():
                stream += fenc.frame(ch, cpu, bytes(b.buf))
                b.reset()
                assert add()
            r = records.Record(cpu, seq, tsc, eid if args is not None else 0, lost,
                               args or (), text if args is None else None)
            want.append(_rec_line(r))
            seq += 1
        for ch, b in batches.items():
            if b.count:
                stream += fenc.frame(ch, cpu, bytes(b.buf))
    out, _ = run(TEST_WIRE, "--decode-trace", stdin=bytes(stream))
    got = out.decode().splitlines()
    assert not [l for l in got if l.startswith("B ")]
    assert _sorted(got) == _sorted(want)


def test_catalog_crc_matches_c():
    out, _ = run(TEST_WIRE, "--crc32", catalog.EVENTS_DEF)
    assert int(out.decode(), 16) == catalog.default().crc
