"""FLIGHT frames (the flight recorder's dump) and EXIT_COUNTS summaries
through both decoders: flight records come out as records of their own
channel and seq space, a seq gap in them is an "overwritten in the flight
recorder" report (not a ring or link loss of the streamed trace), and the
TRACE stream's accounting is untouched. The C and Python paths agree on
the items and on hvlog's text."""
import pytest

from hvtools import frame, native, records, stream
from test_hvlog_util import Capture
from test_render_interop import render

HAVE_C = native.load() is not None
DECODERS = [False] + ([True] if HAVE_C else [])


def flight_capture():
    """Two CPUs: streamed TRACE events with one real ring loss (cpu 1),
    then two dumps of cpu 0's flight recorder: the first from seq 0, the
    second after the recorder overwrote 40 records; and summaries."""
    c = Capture()
    c.hello(2)
    for cpu in range(2):
        c.event(cpu, "HYPERCALL", (1, 2, 3, 4))
        c.event(cpu, "HYPERCALL_RET", (1, 0), lost=3 if cpu == 1 else 0)
        c.flush(frame.TRACE, cpu)
    for k in range(5):
        c._rec(frame.FLIGHT, 0, "event", ("VMEXIT", (30, 0x7c00 + k)))
    c.flush(frame.FLIGHT, 0)
    c._rec(frame.FLIGHT, 0, "event", ("VMEXIT", (10, 0x8000)), 40)
    c._rec(frame.FLIGHT, 0, "event", ("EPT_VIOLATION", (0xfee00000, 0x181, 0x8002)))
    c.flush(frame.FLIGHT, 0)
    io, cpuid = 30, 10
    c.event(0, "EXIT_COUNTS", ((5 << 16) | io, (2 << 16) | cpuid, 0, 0, 0, 0))
    c.flush(frame.TRACE, 0)
    return c


@pytest.mark.parametrize("use_c", DECODERS, ids=lambda x: "c" if x else "python")
def test_flight_records_have_their_own_seqs_and_overwrite_reports(use_c):
    c = flight_capture()
    d = stream.StreamDecoder(force_catalog=True, native=use_c)
    items = d.feed(bytes(c.out)) + d.finish()
    recs = [i for i in items if isinstance(i, records.Record)]
    losses = [i for i in items if isinstance(i, records.Loss)]
    flight = [r for r in recs if r.channel == frame.FLIGHT]
    trace = [r for r in recs if r.channel == frame.TRACE]
    assert [(r.cpu, r.seq, r.name) for r in flight] == \
        [(0, k, "VMEXIT") for k in range(5)] + [(0, 45, "VMEXIT"), (0, 46, "EPT_VIOLATION")]
    # The TRACE seqs count on without the flight records: 0,1 then the summary.
    assert [(r.cpu, r.seq) for r in trace] == [(0, 0), (0, 1), (1, 0), (1, 4), (0, 2)]
    kinds = sorted((l.kind, l.cpu, l.after_seq, l.before_seq, l.count) for l in losses)
    assert kinds == [("flight", 0, 4, 45, 40), ("ring", 1, 0, 4, 3)]
    assert "overwritten in the flight recorder" in str(
        next(l for l in losses if l.kind == "flight"))
    assert d.stats.ring_lost == 3               # the streamed trace's own loss only
    assert d.stats.flight_overwritten == 40
    assert d.stats.frames_lost == 0


def test_a_lost_flight_frame_is_a_link_gap_of_the_flight_stream():
    c = flight_capture()
    c._rec(frame.FLIGHT, 0, "event", ("VMEXIT", (10, 1)))
    c.flush(frame.FLIGHT, 0, drop=True)
    c._rec(frame.FLIGHT, 0, "event", ("VMEXIT", (10, 2)))
    c.flush(frame.FLIGHT, 0)
    d = stream.StreamDecoder(force_catalog=True, native=False)
    items = d.feed(bytes(c.out)) + d.finish()
    link = [i for i in items if isinstance(i, records.Loss) and i.kind == "link"]
    assert [(l.channel, l.after_seq, l.before_seq, l.count) for l in link] == \
        [("flight", 46, 48, 1)]


def summary_lines(text):
    return [ln.split(" cpu0* ", 1)[1] for ln in text.splitlines() if "EXIT_COUNTS" in ln]


@pytest.mark.parametrize("fast", [False] + ([True] if HAVE_C else []),
                         ids=lambda x: "c" if x else "python")
def test_hvlog_shows_flight_records_and_exit_counts_by_name(fast):
    text = render(bytes(flight_capture().out), fast)[0]
    assert summary_lines(text) == ["EXIT_COUNTS IO_INSTRUCTION=5 CPUID=2  #2"]
    vmexits = [ln for ln in text.splitlines() if " VMEXIT " in ln]
    assert len(vmexits) == 6 and all(" cpu0~ VMEXIT " in ln for ln in vmexits), vmexits
    assert "40 records overwritten in the flight recorder" in text


@pytest.mark.skipif(not HAVE_C, reason="C decoder not built (make host)")
def test_c_and_python_render_flight_captures_alike():
    data = bytes(flight_capture().out)
    for chunk in (None, 7, 100):
        a, b = render(data, False, chunk), render(data, True, chunk)
        assert a[:3] == b[:3]
