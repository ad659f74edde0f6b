"""The C decoder (hv/trace/decode.c in libhvtrace.so, hvtools.native) and
the Python reference (hvtools.frame + records) agree item for item: frames,
frame errors (kind, offset, length, kept bytes), records, ring and link
losses, restarts, and the stream counters, on valid, corrupted, truncated,
restarted and malformed captures, however the bytes are split into reads."""
import os
import random

import pytest

from hvtools import catalog, frame, native, records
from hvtools.stream import StreamDecoder
from hvcapture import boot
from test_hvlog_util import standard
from test_wire_interop import TEST_WIRE, corrupt, run

pytestmark = pytest.mark.skipif(native.load() is None,
                                reason=f"C decoder: {native.why_not()} (make host)")


def norm(item):
    """Bad-batch notices name the same frame; their detail text differs."""
    if type(item) is records.Notice and item.level == "error":
        return ("bad batch", item.message.split(":")[0])
    return item


def stream_items(data, nat, chunks=None):
    d = StreamDecoder(catalog.default(), force_catalog=True, native=nat)
    assert d.native == nat
    out = []
    if chunks is None:
        out += d.feed(data)
    else:
        rng, i = random.Random(chunks), 0
        while i < len(data):
            k = rng.choice([1, 2, 5, 64, 511, 4096, 70000])
            out += d.feed(data[i:i + k])
            i += k
    out += d.finish()
    return [norm(x) for x in out], d


def frame_items(data):
    """Lower level: Frame/FrameError objects and per-frame items."""
    py, td = frame.FrameDecoder(), records.TraceDecoder(catalog.default(), strict=False)
    a = []
    for ev in py.decode_all(data):
        a.append(ev)
        if isinstance(ev, frame.Frame) and ev.type in (frame.CONSOLE, frame.TRACE):
            a += [norm(x) for x in td.frame(ev)]
        elif isinstance(ev, frame.Frame) and ev.restart:
            td.forget()
    c = native.NativeFrameDecoder(catalog.default())
    b = []
    for ev in c.feed(data) + c.finish():
        items = None
        if isinstance(ev, frame.Frame):
            items, ev.items = ev.items, None
        b.append(ev)
        b += [norm(x) for x in items or ()]
    return a, b, py.stats, c.stats


def agree(data, chunks=(None, 1, 2)):
    a, b, sa, sb = frame_items(data)
    assert a == b
    assert sa == sb
    for ch in chunks:
        x, dx = stream_items(data, False, ch)
        y, dy = stream_items(data, True, ch)
        assert x == y
        assert dx.stats == dy.stats
    return x


def captures():
    yield "standard", bytes(standard().out)
    yield "boot", bytes(boot(ncpus=3, rounds=30).out)
    yield "boot-losses", bytes(boot(ncpus=4, rounds=30, lose_hello=True, guest_gap=True,
                                    lose_first={(1, 0), (2, 3)}, end_damage=2,
                                    tail=b"\x07abc").out)
    data, _ = run(TEST_WIRE, "--emit-trace", "3000", "5")
    yield "c-emitted", data


@pytest.mark.parametrize("name", ["standard", "boot", "boot-losses", "c-emitted"])
def test_valid_captures_agree(name):
    data = dict(captures())[name]
    items = agree(data)
    assert sum(isinstance(i, records.Record) for i in items) > 100


@pytest.mark.parametrize("seed", range(8))
def test_corrupted_captures_agree(seed):
    rng = random.Random(seed)
    base = [d for _, d in captures()][seed % 4]
    items = agree(corrupt(base, rng, 30), chunks=(None, seed))
    assert any(isinstance(i, frame.FrameError) for i in items)


@pytest.mark.parametrize("seed", range(6))
def test_truncated_and_restarted_captures_agree(seed):
    rng = random.Random(100 + seed)
    a = bytes(boot(ncpus=2, rounds=20, seed=seed).out)
    b = bytes(boot(ncpus=3, rounds=10, seed=seed + 1, lose_first={(2, 2)}).out)
    cut = rng.randrange(len(a))
    data = a[:cut] + b + a + a[:rng.randrange(len(a))]
    items = agree(data, chunks=(None, seed))
    assert sum(isinstance(i, records.Restart) for i in items) == 3


def test_malformed_batches_agree():
    """Good CRC, bad batch: the records before the bad spot, then a notice."""
    cat = catalog.default()
    rng = random.Random(9)
    enc = frame.Encoder()
    vmexit = cat.id_of("VMEXIT")
    data = bytearray(b"\x00")
    for _ in range(400):
        b = records.BatchEncoder(cat)
        for k in range(rng.randrange(1, 6)):
            b.add_event(100 + k, 0, vmexit, 1000 * k, (rng.randrange(60), rng.getrandbits(48)))
        p = bytearray(b.buf)
        for _ in range(rng.randrange(1, 4)):
            p[rng.randrange(len(p))] = rng.randrange(256)
        data += enc.frame(rng.choice([frame.TRACE, frame.CONSOLE]), rng.randrange(3),
                          bytes(p[:rng.randrange(1, len(p) + 1)]))
    items = agree(bytes(data))
    assert sum(isinstance(i, tuple) and i[0] == "bad batch" for i in items) > 50


def test_library_refuses_another_catalogue():
    text = open(catalog.EVENTS_DEF, "rb").read()
    other = catalog.Catalog.parse(text.replace(b'"reason:exit", "guest_rip:x")',
                                               b'"reason:exit")', 1),
                                  open(catalog.NAMES_DEF).read())
    assert other.nargs(other.id_of("VMEXIT")) == 1
    assert native.load(other) is None and "another events.def" in native.why_not(other)
    assert StreamDecoder(other, native=None).native is False


def test_sessions_are_crosschecked(monkeypatch):
    """tests/conftest.py turns on HVTOOLS_CROSSCHECK: every Session (what the
    system tests read) is decoded both ways and must agree."""
    from hvtools.session import Session
    assert os.environ.get("HVTOOLS_CROSSCHECK") == "1"
    data = bytes(boot(ncpus=2, rounds=10, guest_gap=True).out)
    s = Session.decode(data + data, final=True)
    assert s.native and len(s.events()) > 40 and s.find(r"round 9 done")
    # a disagreement is an error
    real = native.NativeFrameDecoder._objects

    def off_by_one(self, tuples, out, arena):
        real(self, tuples, out, arena)
        for f in out:
            for r in getattr(f, "items", None) or ():
                if isinstance(r, records.Record):
                    r.tsc += 1
    monkeypatch.setattr(native.NativeFrameDecoder, "_objects", off_by_one)
    with pytest.raises(AssertionError, match="disagree"):
        Session.decode(data, final=True)
