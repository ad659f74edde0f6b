"""Python-only checks of hvtools.frame and hvtools.records: edge cases,
corruption and resynchronisation, incremental == bulk, loss reporting."""
import random

import pytest

from hvtools import catalog, frame, records


def test_cobs_roundtrip_and_shapes():
    rng = random.Random(1)
    for n in (0, 1, 253, 254, 255, 508, 509, 1000):
        for data in (bytes(n), b"\xff" * n, bytes(rng.randrange(256) for _ in range(n))):
            e = frame.cobs_encode(data)
            assert b"\x00" not in e and len(e) <= n + n // 254 + 1
            assert frame.cobs_decode(e) == data
    assert frame.cobs_encode(b"") == b"\x01"
    assert frame.cobs_encode(b"\x00") == b"\x01\x01"
    assert frame.cobs_encode(b"\x11" * 254) == b"\xff" + b"\x11" * 254 + b"\x01"
    with pytest.raises(ValueError):
        frame.cobs_decode(b"\x05ab")


def test_roundtrip_all_channels_edges():
    d = frame.FrameDecoder()
    for t in range(6):
        for payload in (b"", bytes(512), b"\xff" * 512, bytes(range(256)) * 2):
            ev = d.feed(frame.encode(t, 3, 0xffff, payload))
            assert len(ev) == 1 and ev[0].payload == payload and ev[0].seq == 0xffff
    with pytest.raises(ValueError):
        frame.encode(1, 0, 0, bytes(513))
    assert d.stats.total_errors == 0


def _stream(n, seed):
    rng = random.Random(seed)
    enc = frame.Encoder()
    parts, sent = [], []
    for _ in range(n):
        t, c = rng.randrange(5), rng.randrange(3)
        p = bytes(rng.randrange(256) for _ in range(rng.randrange(100)))
        parts.append(enc.frame(t, c, p))
        sent.append((t, c, p))
    return b"".join(parts), sent


def test_incremental_equals_bulk():
    data, _ = _stream(400, 2)
    data = b"junk" + data[:5000] + b"\x07\x07" + data[5000:]
    bulk = frame.FrameDecoder().decode_all(data)
    rng = random.Random(3)
    d = frame.FrameDecoder()
    inc, i = [], 0
    while i < len(data):
        k = rng.choice([1, 1, 2, 7, 100, 3000])
        inc += d.feed(data[i:i + k])
        i += k
    inc += d.finish()
    assert inc == bulk


def test_corruption_resync_and_gaps():
    data, sent = _stream(2000, 4)
    rng = random.Random(5)
    b = bytearray(data)
    for _ in range(60):
        p = rng.randrange(len(b))
        if rng.random() < 0.5:
            b[p] ^= 0x5a
        else:
            del b[p:p + rng.randrange(1, 40)]
    d = frame.FrameDecoder()
    ev = d.decode_all(bytes(b))
    frames = [e for e in ev if isinstance(e, frame.Frame)]
    errors = [e for e in ev if isinstance(e, frame.FrameError)]
    sent_set = set(sent)
    assert all((f.type, f.cpu, f.payload) in sent_set for f in frames)
    assert len(frames) > 1800 and errors
    assert d.stats.total_errors == len(errors)
    assert d.stats.bytes_discarded == sum(e.length for e in errors)
    # every lost frame shows up as a sequence gap in its stream
    assert d.stats.frames_lost + len(frames) >= 2000 - 20
    assert sum(f.gap or 0 for f in frames) == d.stats.frames_lost
    assert all(e.offset >= 0 for e in errors)


def test_error_kinds_and_offsets():
    good = frame.encode(frame.GDB, 0, 1, b"$g#67")
    long_run = b"\x41" * 3000
    data = b"GRUB" + b"\x00\x00" + good + long_run + b"\x00" + b"\x04\x01\x02\x03\x00" + good
    bad = frame.cobs_encode(b"\x04\x00\x01\x00$g#67" + b"\x01\x02\x03\x04") + b"\x00"
    data += bad + b"\x09\x01"     # crc error, then an unterminated tail
    ev = frame.FrameDecoder().decode_all(data)
    kinds = [(e.kind, e.offset, e.length) if isinstance(e, frame.FrameError) else "F" for e in ev]
    g = len(good)
    assert kinds == [("cobs", 0, 4), "F", ("long", 6 + g, 3000), ("short", 6 + g + 3001, 4), "F",
                     ("crc", 6 + 2 * g + 3006, len(bad) - 1),
                     ("truncated", 6 + 2 * g + 3006 + len(bad), 2)]
    assert ev[0].data == b"GRUB"


def test_long_run_fed_in_pieces():
    d = frame.FrameDecoder()
    out = []
    for _ in range(100):
        out += d.feed(b"\x55" * 100)
    out += d.feed(b"\x00" + frame.encode(1, 0, 0, b"ok"))
    assert [type(e) for e in out] == [frame.FrameError, frame.Frame]
    assert out[0].kind == "long" and out[0].offset == 0 and out[0].length == 10000


def test_trace_decoder_losses_and_hello():
    cat = catalog.default()
    vmexit = cat.id_of("VMEXIT")
    enc = frame.Encoder()
    b = records.BatchEncoder(cat)
    assert b.add_event(1000, 0, vmexit, 10, (32, 0xffffffff8106b3e4))
    assert b.add_event(1018, 17, vmexit, 20, (10, 0xffffffff8106b3e4))
    s = enc.frame(frame.CONTROL, 0, records.encode_hello(cat.crc, 4, 2000000))
    s += enc.frame(frame.TRACE, 2, bytes(b.buf))
    enc.frame(frame.TRACE, 2, b"")                 # a frame that never arrives
    b.reset()
    assert b.add_event(1030, 0, vmexit, 30, (18, 0))
    s += enc.frame(frame.TRACE, 2, bytes(b.buf))
    out, fd, td = records.decode_stream(s, cat, strict=True)
    msgs = [str(o) for o in out if isinstance(o, records.Loss)]
    assert msgs == ["cpu 2: 17 records lost between seq 1000 and 1018",
                    "cpu 2 trace: 1 frame(s) lost on the link; records between seq 1018 "
                    "and 1030 missing from this channel"]
    recs = [o for o in out if isinstance(o, records.Record)]
    assert [r.seq for r in recs] == [1000, 1018, 1030]
    assert recs[0].named_args(cat) == {"reason": 32, "guest_rip": 0xffffffff8106b3e4}
    line = records.format_record(recs[0], cat)
    assert "VMEXIT reason=WRMSR guest_rip=0xffffffff8106b3e4" in line
    assert isinstance(out[0], records.Hello) and out[0].ncpus == 4


def test_malformed_batches_reported_not_raised():
    cat = catalog.default()
    rng = random.Random(9)
    for _ in range(2000):
        p = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        recs, err = records.decode_batch(p, cat)
        assert err is None or isinstance(err, str)
