"""hvlog tells the truth about the stream (issue 12), on real-looking boot
captures (hvcapture.boot), corrupted and restarted, through both decoders
(the C core and the Python reference): restarts reset the sequence
tracking wherever the read boundaries fall; times before the calibrated
rate are marked and later corrected; losses at a stream's start and end are
counted; a line spliced across lost bytes is marked; Perfetto tracks run
forward in time."""
import io
import json

import pytest

from hvtools import native, records
from hvtools.hvlog import Line, LiveDecoder, perfetto
from hvcapture import KHZ, boot

PATHS = [False, pytest.param(True, marks=pytest.mark.skipif(
    native.load() is None, reason=f"C decoder: {native.why_not()}"))]


def decode(data, chunk=None, native=False, **kw):
    d = LiveDecoder(native=native, force_catalog=True, **kw)
    items = []
    step = chunk or max(1, len(data))
    for i in range(0, len(data), step):
        items += d.feed(data[i:i + step])
    return items + d.close(), d


@pytest.mark.parametrize("nat", PATHS)
@pytest.mark.parametrize("chunk", [None, 1, 97, 4096, 65536])
def test_capture_concatenated_with_itself_is_one_restart(nat, chunk):
    data = bytes(boot(ncpus=3, rounds=40, lose_first={(2, 1)}).out)
    _, one = decode(data, native=nat)
    items, two = decode(data + data, chunk, native=nat)
    assert one.stats.frames_lost == 1 and one.stats.restarts == 0
    assert two.stats.restarts == 1
    assert two.stats.frames_lost == 2 * one.stats.frames_lost
    assert two.stats.ring_lost == 2 * one.stats.ring_lost
    links = [i for i in items if isinstance(i, records.Loss) and i.kind == "link"]
    assert [(l.cpu, l.channel, l.count) for l in links] == [(1, "trace", 1)] * 2
    assert sum(isinstance(i, records.Restart) for i in items) == 1


@pytest.mark.parametrize("nat", PATHS)
def test_restart_starts_time_again(nat):
    data = bytes(boot(rounds=5).out)
    out = io.StringIO()
    decode(data + data, native=nat, out=out, color=False)
    boot_lines = [l for l in out.getvalue().splitlines() if "hv: serial up" in l]
    assert len(boot_lines) == 2
    assert all(l.split()[0] == "0.0us?" for l in boot_lines)


def _label(out, needle):
    return [l for l in out.getvalue().splitlines() if needle in l][0].split()[0]


@pytest.mark.parametrize("nat", PATHS)
@pytest.mark.parametrize("lose_hello", [False, True])
def test_early_times_marked_then_calibrated(nat, lose_hello):
    c = boot(rounds=3, lose_hello=lose_hello)
    out = io.StringIO()
    items, d = decode(bytes(c.out), native=nat, out=out, color=False, keep=True)
    # before the calibrated rate: the 1 GHz default, marked uncalibrated
    assert _label(out, "calibrating the TSC") == "0.1us?"
    # the BOOT event comes 10 ms later; with the rate it carries (or the
    # second HELLO's) it is 10000 us, not the 1 GHz default's 25000 us
    boot_rec = [i for i in items if isinstance(i, records.Record) and i.name == "BOOT"][0]
    assert d.clock.khz == KHZ and d.clock.calibrated
    assert d.renderer.clock.label(boot_rec.tsc).strip() == "10000.1us"
    assert _label(out, "cpu1: round 0") .endswith("us") and "?" not in _label(out, "round 2")
    # exports made at the end convert every time with the calibrated rate
    doc = perfetto.build(d.kept, d.clock, d.cat)
    ev = {e["args"].get("text", e["name"]): e["ts"] for e in doc["traceEvents"] if e["ph"] == "i"}
    assert ev["hv: calibrating the TSC"] == pytest.approx(137 * 1000 / KHZ)
    assert ev["BOOT"] == pytest.approx(10000.1, abs=0.1)


@pytest.mark.parametrize("nat", PATHS)
def test_losses_at_stream_start_counted(nat):
    c = boot(rounds=4, lose_first={(1, 0), (2, 1)})
    items, d = decode(bytes(c.out), native=nat)
    links = [i for i in items if isinstance(i, records.Loss) and i.kind == "link"]
    assert [(l.cpu, l.channel, l.count, l.after_seq) for l in links] == \
        [(0, "console", 1, None), (1, "trace", 1, None)]
    assert "before seq" in str(links[0])
    assert d.stats.frames_lost == 2
    assert "2 frame(s) lost in 2 gap(s)" in d.summary()
    # the first console line says its start is missing
    first = [i for i in items if isinstance(i, Line) and i.kind == "console" and i.cpu == 0][0]
    assert first.lost and first.text.startswith("[~1 frame lost~]")


@pytest.mark.parametrize("nat", PATHS)
def test_losses_at_stream_end_counted(nat):
    c = boot(rounds=4, end_damage=2, tail=b"\x05\x41\x42")
    items, d = decode(bytes(c.out), native=nat)
    assert d.stats.errors["crc"] == 2 and d.stats.errors["truncated"] == 1
    assert d.stats.end_damaged == 3
    assert "lost at the end: 3 damaged frame(s)" in d.summary()
    assert any(isinstance(i, records.Notice) and "3 damaged frame(s) at the end" in i.message
               for i in items)
    # damage followed by good frames is no end loss: the gaps show it
    mid = boot(rounds=2, end_damage=1).out + boot(rounds=2, seed=3).out
    _, d = decode(bytes(mid), native=nat)
    assert d.stats.end_damaged == 1 and d.stats.restarts == 1


@pytest.mark.parametrize("nat", PATHS)
def test_guest_line_spliced_across_lost_frame_is_marked(nat):
    c = boot(rounds=6, guest_gap=True)
    out = io.StringIO()
    items, _ = decode(bytes(c.out), native=nat, out=out, color=False)
    g = [i for i in items if isinstance(i, Line) and i.kind == "guest"]
    assert [(x.text, x.lost) for x in g] == [("guest: built-st[~1 frame lost~]ssed: hello", True)]
    assert "guest! guest: built-st[~1 frame lost~]ssed: hello" in out.getvalue()
    c = boot(rounds=6)
    items, _ = decode(bytes(c.out), native=nat)
    g = [i for i in items if isinstance(i, Line) and i.kind == "guest"]
    assert [(x.text, x.lost) for x in g] == [("guest: built-string 3 tests passed: hello", False)]


@pytest.mark.parametrize("nat", PATHS)
def test_perfetto_tracks_run_forward(nat, tmp_path):
    data = bytes(boot(ncpus=3, rounds=30).out)
    _, d = decode(data + data, native=nat, keep=True)
    path = tmp_path / "t.json"
    perfetto.write(str(path), d.kept, d.clock, d.cat, None, d.ncpus)
    evs = [e for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == "i"]
    tracks = {}
    for e in evs:
        tracks.setdefault((e["pid"], e["tid"]), []).append(e["ts"])
    assert {p for p, _ in tracks} == {1, 2}          # the restart is its own process
    assert all(ts == sorted(ts) for ts in tracks.values())
    assert len(evs) == 2 * len([e for e in evs if e["pid"] == 1])


def test_cli_same_story_with_and_without_the_c_decoder(tmp_path):
    """hvlog itself on a damaged, restarted capture: the C path and the
    Python fallback print the same lines and the same summary counts."""
    import os
    import subprocess
    from testpaths import ROOT
    c = boot(ncpus=3, rounds=15, lose_first={(2, 1)}, guest_gap=True, end_damage=1)
    path = tmp_path / "raw.bin"
    path.write_bytes(bytes(boot(rounds=5, lose_hello=True).out) + bytes(c.out))
    outs = []
    for lib in ("", "none"):
        env = dict(os.environ, HVTRACE_LIB=lib) if lib else dict(os.environ)
        p = subprocess.run([os.path.join(ROOT, "host-tools", "hvlog"), "--file", str(path),
                            "--no-color", "--no-elf"], capture_output=True, text=True,
                           timeout=60, env=env)
        assert p.returncode == 0, p.stderr
        err = [l for l in p.stderr.splitlines() if not l.startswith(("decoder:", "hvlog: C"))]
        outs.append((p.stdout, err))
        assert ("C decoder not used" in p.stderr) == bool(lib)
    assert outs[0] == outs[1]
    text, err = outs[0]
    assert "restarts:        1" in "\n".join(err)
    assert "guest! guest: built-st[~1 frame lost~]ssed: hello" in text
    assert "lost at the end: 1 damaged frame(s)" in "\n".join(err)
