"""Wire version 2 batch coding in Python (records.decode_batch and
records.BatchEncoder; format in hv/trace/wire.h): exact round trips at the
edges (tsc steps of any size and sign, seq wrap, skip/lost, the largest
arg counts, more kinds than id slots, history reach), the sizes the format
promises, and the payloads it must refuse (the same byte vectors as
tests/unit/test_wire_batch.c, so both readers refuse them)."""
import random

import pytest

from hvtools import catalog, records

M64 = (1 << 64) - 1


def six_arg_catalog():
    """The real catalogue has at most 4 args; wire.h allows 6 (two mode bytes)."""
    text = open(catalog.EVENTS_DEF, "rb").read()
    text += (b'TRACE_EVENT(0x142, SIX, meta, "a:x", "b:x", "c:x", "d:x", "e:x", "f:x")\n'
             b'TRACE_EVENT(0x143, FIVE, meta, "a:x", "b:x", "c:x", "d:x", "e:x")\n')
    return catalog.Catalog.parse(text, open(catalog.NAMES_DEF).read())


def roundtrip(cat, items, cap=512):
    """items: (seq, lost, name, tsc, args or text) all in one batch."""
    b = records.BatchEncoder(cat, cap)
    for seq, lost, name, tsc, a in items:
        ok = (b.add_text(seq, lost, tsc, a) if name == "CONSOLE_TEXT"
              else b.add_event(seq, lost, cat.id_of(name), tsc, a))
        assert ok
    recs, err = records.decode_batch(bytes(b.buf), cat)
    assert err is None
    assert [(r.seq, r.lost, r.name, r.tsc) for r in recs] == \
        [(s & M64, lo, n, t & M64) for s, lo, n, t, _ in items]
    for r, (_, _, name, _, a) in zip(recs, items):
        if name == "CONSOLE_TEXT":
            assert r.text == a
        else:
            want = tuple(a) + (0,) * (len(cat.by_name[name].args) - len(a))
            assert r.args == want
    return b


def test_tsc_steps_any_size_and_sign():
    cat = catalog.default()
    tscs = [0, 15, 16, 4095, 4096, 1 << 40, (1 << 40) - 1, M64, 0, 1 << 63, 0,
            (1 << 63) + 1, 5, M64 - 7, 3]
    roundtrip(cat, [(7 + k, 0, "VMEXIT", t, (1, 2)) for k, t in enumerate(tscs)])


def test_seq_wrap_skip_lost_and_text():
    cat = catalog.default()
    roundtrip(cat, [(M64 - 3, 0, "VMEXIT", 1, (1, 2)), (M64, 2, "VMEXIT", 2, (1, 2)),
                    (1, 0, "VMEXIT", 3, (1, 2)), (1000, M64, "CONSOLE_TEXT", 4, b"hi"),
                    (1001, 0, "CONSOLE_TEXT", 5, b"x" * 256)])


def test_five_and_six_args_use_two_mode_bytes():
    cat = six_arg_catalog()
    rng = random.Random(4)
    hot = [0xffffffff81000000 + rng.randrange(1 << 22) for _ in range(5)]
    items = []
    for k in range(40):
        six = tuple(rng.choice([0, 1, M64, rng.getrandbits(64), rng.choice(hot)])
                    for _ in range(6))
        items.append((k, 0, "SIX" if k % 3 else "FIVE", 100 * k, six[:6 if k % 3 else 5]))
    roundtrip(cat, items, cap=4096)
    b = records.BatchEncoder(cat)
    b.add_event(0, 0, cat.id_of("SIX"), 0, (0,) * 6)
    # header 2, head 1, id escape 2, dt 1, two mode bytes; zeros cost nothing
    assert len(b.buf) == 2 + 1 + 2 + 1 + 2


def test_more_kinds_than_id_slots():
    cat = catalog.default()
    names = ["VMEXIT", "VMRESUME", "NMI_ENTER", "NMI_EXIT", "HYPERCALL",
             "QUIESCE_JOINED", "GDB_ATTACH", "TRACE_MARK", "RING_LOSS"]
    args = (0x1234, M64, 0, 1 << 63)
    items = [(k, 0, names[k % len(names)], 100 * k,
              args[:len(cat.by_name[names[k % len(names)]].args)])
             for k in range(3 * len(names))]
    roundtrip(cat, items)
    b = records.BatchEncoder(cat)
    sizes = []
    for seq, lost, name, tsc, a in items:
        n = len(b.buf)
        b.add_event(seq, lost, cat.id_of(name), tsc, a)
        sizes.append(len(b.buf) - n)
    last = dict(zip(names, sizes[-len(names):]))
    assert last["GDB_ATTACH"] == 2            # 7th kind: a table slot
    assert last["TRACE_MARK"] > 3             # 8th: escaped every time


@pytest.mark.parametrize("cycle,size", [(records.HIST, 4), (records.HIST + 1, 7)])
def test_history_reach(cycle, size):
    cat = catalog.default()
    vals = [0xffffffff80000000 + (k % cycle) * 0x100000 for k in range(2 * records.HIST)]
    b = roundtrip(cat, [(k, 0, "TRACE_MARK", k, (v,)) for k, v in enumerate(vals)])
    before = records.BatchEncoder(cat)
    for k, v in enumerate(vals[:-1]):
        before.add_event(k, 0, cat.id_of("TRACE_MARK"), k, (v,))
    assert len(b.buf) - len(before.buf) == size


def test_common_record_sizes():
    """The shapes the benchmark is made of: VMEXIT with a recurring rip,
    VMRESUME after a short step."""
    cat = catalog.default()
    vmexit, resume = cat.id_of("VMEXIT"), cat.id_of("VMRESUME")
    b = records.BatchEncoder(cat)
    a, c = (30, 0xffffffff81234567), (10, 0xffffffff81abcdef)
    b.add_event(1, 0, vmexit, 1000, a)
    b.add_event(2, 0, resume, 1500, ())
    b.add_event(3, 0, vmexit, 1500, c)
    steps = []
    for seq, eid, tsc, args in ((4, resume, 3000, ()), (5, vmexit, 3000 + 4095, a),
                                (6, vmexit, 3000 + 4095 + 4096, a)):
        n = len(b.buf)
        assert b.add_event(seq, 0, eid, tsc, args)
        steps.append(len(b.buf) - n)
    assert steps == [2, 5, 5]     # head+dt; head dt modes reason k; head dt*2 modes reason


def test_efull_leaves_batch_and_next_starts_afresh():
    cat = catalog.default()
    vmexit = cat.id_of("VMEXIT")
    b = records.BatchEncoder(cat, cap=64)
    k = 0
    while b.add_event(k, 0, vmexit, 50 * k, (48, 0xffffffff81000040)):
        k += 1
    full = bytes(b.buf)
    assert not b.add_event(k, 0, vmexit, 50 * k, (48, 1)) and bytes(b.buf) == full
    assert len(records.decode_batch(full, cat)[0]) == k
    b.reset()
    assert b.add_event(k, 0, vmexit, 50 * k, (48, 0xffffffff81000040))
    recs, err = records.decode_batch(bytes(b.buf), cat)
    assert err is None and recs[0].seq == k and recs[0].tsc == 50 * k


@pytest.mark.parametrize("payload,ok", [
    (bytes([1, 0, 0x00, 0]), False),                              # slot 0, empty table
    (bytes([1, 0, 0xF0, 0x90, 0x02] + [0xFF] * 8 + [0x10]), False),  # dt >= 2^60
    (bytes([1, 0, 0xF0, 0x90, 0x02] + [0xFF] * 8 + [0x0F]), True),   # dt = 2^60 - 1
    (bytes([1, 0, 0xE0, 0x88, 0x14, 0x01, 0x03, 0x00]), False),     # history empty
    (bytes([1, 0, 0xE0, 0xF8, 0xFF, 0x1F, 0x00]), False),           # id 0xffff
    (bytes([1, 0, 0xE0, 0x00, 0x01, 0x05]), False),                 # text past the end
    (bytes([1, 0, 0xE0, 0x00, 0x01, 0x00]), True),                  # empty text
    (bytes([1, 0]), True),                                          # header only
])
def test_refused_payloads(payload, ok):
    recs, err = records.decode_batch(payload, catalog.default())
    assert (err is None) == ok
    if payload == bytes([1, 0, 0xF0, 0x90, 0x02] + [0xFF] * 8 + [0x0F]):
        assert recs[0].name == "VMRESUME" and recs[0].tsc == M64 - 15
