"""hvlog's decode path (LiveDecoder) on synthetic captures: consoles split
per CPU and complete, errors/gaps/drops counted exactly, filters, catalogue
refusal, plain mode, rendering without terminal codes."""
import io
import random

import pytest

from hvtools import frame, records
from hvtools.hvlog import CatalogRefused, FilterError, Line, LiveDecoder, decode_bytes
from test_hvlog_util import GRUB, Capture, standard


def lines_of(items, cpu):
    return [i.text for i in items if isinstance(i, Line) and i.kind == "console" and i.cpu == cpu]


@pytest.mark.parametrize("chunk", [None, 1, 7, 300])
def test_every_cpu_console_separated_and_complete(chunk):
    c = standard()
    d = LiveDecoder()
    data = bytes(c.out)
    items = []
    if chunk is None:
        items = d.feed(data)
    else:
        for i in range(0, len(data), chunk):
            items += d.feed(data[i:i + chunk])
    items += d.close()
    for cpu in range(3):
        assert lines_of(items, cpu) == c.lines(cpu), cpu
        assert len(c.lines(cpu)) == 40
    # trace events: everything that was delivered, in order, nothing else
    for cpu in range(3):
        got = [(r.name, r.args, r.seq, r.tsc) for r in items
               if isinstance(r, records.Record) and r.cpu == cpu]
        assert got == c.events[cpu]
    # GRUB text before the first 0x00 is shown as boot text, not an error
    boot = [i.text for i in items if isinstance(i, Line) and i.kind == "prelude"]
    assert boot == ["GRUB loading.", "Welcome to GRUB!", "  Booting `hv'"]
    guest = [i.text for i in items if isinstance(i, Line) and i.kind == "guest"]
    assert guest == ["guest: hello", "login: root"]


def test_errors_gaps_drops_exact_and_crc_never_attributed():
    c = standard()
    items, d = decode_bytes(bytes(c.out))
    st = d.stats
    assert st.errors == {"crc": 1, "cobs": 0, "short": 0, "long": 0, "truncated": 0}
    assert st.prelude_bytes == len(GRUB) and st.prelude_frames == 1
    errs = [i for i in items if isinstance(i, frame.FrameError)]
    assert len(errs) == 1 and errs[0].kind == "crc"
    # the corrupt frame claimed to be cpu 1 console seq 999: nothing of it
    # may show up in cpu 1's counters or text
    s1 = st.streams[("console", 1)]
    assert s1.gaps == 0 and s1.frames_lost == 0
    assert all("not delivered" not in t for t in lines_of(items, 1))
    gaps = {k: (v.gaps, v.frames_lost) for k, v in st.streams.items() if v.gaps}
    assert gaps == {("trace", 1): (1, 1)}
    assert c.frames_dropped == {(frame.TRACE, 1): 1}
    assert {k[1]: v.ring_lost for k, v in st.streams.items() if v.ring_lost} == {2: 7}
    losses = [i for i in items if isinstance(i, records.Loss)]
    assert [(l.kind, l.cpu, l.count) for l in losses] == [("ring", 2, 7), ("link", 1, 1)]
    summ = d.summary()
    assert "crc 1" in summ and "ring drops:      7" in summ
    assert "1 frame(s) lost in 1 gap(s)" in summ
    row = [l for l in summ.splitlines() if l.startswith("trace    1")][0].split()
    assert row[-3:] == ["1", "1", "0"]


def test_gap_on_console_and_guest_reported():
    c = Capture()
    c.raw(b"\x00")
    c.hello(2)
    c.say(0, b"one\n"); c.flush(frame.CONSOLE, 0)
    c.say(0, b"lost\n"); c.flush(frame.CONSOLE, 0, drop=True)
    c.say(0, b"three\n"); c.flush(frame.CONSOLE, 0)
    c.guest(b"a\n")
    c.enc.frame(frame.GUEST, 0, b"never")
    c.enc.frame(frame.GUEST, 0, b"never")
    c.guest(b"b\n")
    items, d = decode_bytes(bytes(c.out))
    # the lines after each hole say where bytes are missing, and are marked
    assert lines_of(items, 0) == ["one", "[~1 frame lost~]three"]
    guest = [i for i in items if isinstance(i, Line) and i.kind == "guest"]
    assert [(g.text, g.lost) for g in guest] == [("a", False), ("[~2 frames lost~]b", True)]
    assert [(l.channel, l.count) for l in items if isinstance(l, records.Loss)] == \
        [("console", 1), ("guest", 2)]
    assert d.stats.frames_lost == 3 and d.stats.frame_errors == 0


def test_filters():
    c = standard()
    data = bytes(c.out)
    d = LiveDecoder(cpus="0,2", events="nmi_enter", keep=True)
    d.feed(data); d.close()
    recs = [i for i in d.kept if isinstance(i, records.Record)]
    assert recs and {r.cpu for r in recs} == {0, 2} and {r.name for r in recs} == {"NMI_ENTER"}
    assert {i.cpu for i in d.kept if isinstance(i, Line) and i.kind == "console"} == {0, 2}
    d = LiveDecoder(events="VMEXIT", classes="nmi", console=False, keep=True)
    d.feed(data)
    assert {i.name for i in d.kept if isinstance(i, records.Record)} == \
        {"VMEXIT", "NMI_ENTER", "NMI_EXIT"}
    assert not [i for i in d.kept if isinstance(i, Line) and i.kind == "console"]
    d = LiveDecoder(trace=False, keep=True)
    d.feed(data)
    assert not [i for i in d.kept if isinstance(i, records.Record)]
    # the crc error and the losses are still shown whatever the filter
    d = LiveDecoder(cpus="0", keep=True)
    d.feed(data)
    assert any(isinstance(i, frame.FrameError) for i in d.kept)
    assert not any(isinstance(i, records.Loss) for i in d.kept)   # losses are cpu 1, 2


@pytest.mark.parametrize("kw,needle", [
    (dict(events="VMEXT"), "did you mean VMEXIT"),
    (dict(events="NOPE_*"), "no such trace event"),
    (dict(classes="nmii"), "did you mean nmi"),
    (dict(cpus="0,x"), "bad --cpu"),
    (dict(cpus="3-1"), "bad --cpu"),
])
def test_bad_filters_rejected_with_close_matches(kw, needle):
    with pytest.raises(FilterError) as e:
        LiveDecoder(**kw)
    assert needle in str(e.value)


def test_catalogue_mismatch_refused_unless_forced():
    c = Capture(crc=0xdeadbeef)
    c.raw(b"\x00")
    c.hello(1)
    c.say(0, b"hi\n")
    c.flush_all()
    with pytest.raises(CatalogRefused) as e:
        LiveDecoder().feed(bytes(c.out))
    msg = str(e.value)
    assert "0xdeadbeef" in msg and f"{c.cat.crc:#010x}" in msg
    out = io.StringIO()
    items, d = decode_bytes(bytes(c.out), force_catalog=True, out=out, color=False)
    assert lines_of(items, 0) == ["hi"]
    assert "catalogue mismatch" in out.getvalue() and "0xdeadbeef" in out.getvalue()


def test_plain_mode_capture():
    data = GRUB + b"[cpu0] hv: hello\r\n[cpu1] hv: cpu1 online\r\n[cpu0] trace VMEXIT reason=0xa\r\n"
    items, d = decode_bytes(data)
    assert lines_of(items, 0) == ["hv: hello", "trace VMEXIT reason=0xa"]
    assert lines_of(items, 1) == ["hv: cpu1 online"]
    assert d.stats.frame_errors == 0


def test_partial_line_shown_when_idle_then_continued():
    c = Capture()
    c.raw(b"\x00")
    c.guest(b"login: ")
    d = LiveDecoder()
    assert not [i for i in d.feed(bytes(c.out)) if isinstance(i, Line)]
    part = d.idle()
    assert [(i.text, i.partial) for i in part] == [("login: ", True)]
    c.out.clear()
    c.guest(b"root\n")
    rest = d.feed(bytes(c.out))
    assert [(i.text, i.cont) for i in rest] == [("root", True)]


def test_plain_render_has_no_terminal_codes_and_colour_has():
    c = standard(rounds=3)
    plain, col = io.StringIO(), io.StringIO()
    decode_bytes(bytes(c.out), out=plain, color=False, elf=lambda a: "guest_fn" if a >> 63 else None)
    decode_bytes(bytes(c.out), out=col, color=True)
    p = plain.getvalue()
    assert "\x1b" not in p
    assert "cpu1| cpu1 round 0: value=" in p
    assert "cpu0* VMEXIT reason=" in p and "<guest_fn>" in p
    assert "us cpu" in p                        # timestamps in us (HELLO has the rate)
    assert "\x1b[" in col.getvalue()
    # log gets everything even when the filter hides it
    log = io.StringIO()
    decode_bytes(bytes(c.out), cpus="0", log=log, out=None)
    assert "cpu2| " in log.getvalue() and "\x1b" not in log.getvalue()


def test_random_corruption_never_crashes_and_is_counted():
    c = standard(rounds=10)
    rng = random.Random(3)
    data = bytearray(c.out)
    for _ in range(40):
        data[rng.randrange(len(GRUB) + 1, len(data))] ^= 1 << rng.randrange(8)
    items, d = decode_bytes(bytes(data), force_catalog=True)
    assert d.stats.frame_errors >= 1
    assert d.stats.frame_errors == len([i for i in items if isinstance(i, frame.FrameError)])
