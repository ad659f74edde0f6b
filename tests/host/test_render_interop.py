"""hvlog's fast path (records rendered in C: hvtools.native.Formatter,
host-tools/libhvtrace/) prints exactly what the Python renderer prints:
the live text and decoded.log, with filters, symbols, restarts, losses and
an uncalibrated start, read in any split."""
import io
import os
import random

import pytest

from hvtools import native
from hvtools.hvlog import LiveDecoder
from hvcapture import boot
from test_decode_interop import captures, corrupt
from test_hvlog_util import standard
from testpaths import BUILD

pytestmark = pytest.mark.skipif(native.load() is None,
                                reason=f"C decoder: {native.why_not()} (make host)")
ELF = os.path.join(BUILD, "hv.elf")


def render(data, fast, chunk=None, idle_every=0, with_log=True, **kw):
    out, log = io.StringIO(), io.StringIO() if with_log else None
    d = LiveDecoder(out=out, log=log, color=False, force_catalog=True,
                    native=None if fast else False, fast=fast, **kw)
    assert d.fast == fast
    step = chunk or max(1, len(data))
    for n, i in enumerate(range(0, len(data), step)):
        d.feed(data[i:i + step])
        if idle_every and n % idle_every == 0:
            d.idle()
    d.close()
    return out.getvalue(), log and log.getvalue(), d.stats, d.summary()


def same(data, chunks=(None, 777), **kw):
    for ch in chunks:
        a = render(data, False, ch, **kw)
        b = render(data, True, ch, **kw)
        assert a[0] == b[0]
        assert a[1] == b[1]
        assert a[2] == b[2]
        assert a[3] == b[3]
    return a[0]


@pytest.mark.parametrize("name", ["standard", "boot", "boot-losses", "c-emitted"])
def test_same_text(name):
    text = same(dict(captures())[name])
    assert text.count("\n") > 100


@pytest.mark.parametrize("kw", [dict(cpus="1"), dict(events="VMEXIT", classes="nmi"),
                                dict(trace=False), dict(console=False, guest=False)])
def test_same_text_filtered(kw):
    data = bytes(boot(ncpus=3, rounds=20, guest_gap=True).out) + bytes(standard().out)
    same(data, **kw)


@pytest.mark.skipif(not os.path.exists(ELF), reason="build/hv.elf not built")
def test_same_text_with_symbols():
    from hvtools.records import Symbolizer
    sym = Symbolizer(ELF)
    lo = min(a for a, n, _ in sym._syms if n)
    data = bytes(standard().out)
    c = boot(rounds=3)
    for k in range(300):            # addresses in, between and past symbols
        c.event(k % 2, "NMI_ENTER", (lo + 37 * k * k, 1))
        c.event(k % 2, "VMEXIT", (k, sym._end - 150 + k))
    c.flush_all()
    same(data + bytes(c.out), elf=ELF)


@pytest.mark.parametrize("seed", range(4))
def test_same_text_corrupted_restarted_split(seed):
    rng = random.Random(seed)
    a = bytes(boot(ncpus=2, rounds=25, seed=seed, lose_hello=bool(seed % 2)).out)
    data = corrupt(a, rng, 20) + a[:rng.randrange(len(a))] + a
    same(data, chunks=(None, 1 + seed * 50), idle_every=3, with_log=bool(seed % 2))


ASAN_LIB = os.path.join(BUILD, "host", "libhvtrace-asan.so")


@pytest.mark.skipif(not os.path.exists(ASAN_LIB), reason="make host builds it")
def test_c_side_clean_under_asan_and_ubsan():
    """The interop tests again, against libhvtrace built with ASan + UBSan
    (loaded into Python with the sanitizer runtimes preloaded)."""
    import subprocess
    import sys
    if os.environ.get("HVTRACE_LIB"):
        pytest.skip("already running against a chosen library")
    pre = [subprocess.run(["gcc", f"-print-file-name={n}"], capture_output=True,
                          text=True).stdout.strip() for n in ("libasan.so", "libubsan.so")]
    env = dict(os.environ, HVTRACE_LIB=ASAN_LIB, LD_PRELOAD=" ".join(pre),
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x",
                        os.path.join(here, "test_decode_interop.py"),
                        os.path.join(here, "test_render_interop.py"),
                        os.path.join(here, "test_hvlog_truth.py")],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, (p.stdout[-3000:] + p.stderr[-3000:])
    assert "runtime error" not in p.stderr + p.stdout


def test_same_time_labels_at_rounding_edges():
    """Times exactly half-way between two tenths of a microsecond, below t0,
    tiny and huge, at rates with and without the uncalibrated mark."""
    from hvtools import frame, records
    from test_hvlog_util import Capture
    rng = random.Random(4)
    data = b"\x00"
    for khz in (4000, 40000, 2000, 3, 1_000_000, 2_500_000, 7, 999_983):
        c = Capture()
        c.out += c.enc.frame(frame.CONTROL, 0, records.encode_hello(c.cat.crc, 1, khz))
        base = 1 << 40
        deltas = [0, 1, 3, 5, -1, -3, 25, 75, 125, 10 ** 12, 2 ** 62, -(2 ** 39)]
        deltas += [rng.randrange(-10 ** 6, 10 ** 9) for _ in range(200)]
        for d in deltas:
            c.tsc = base + d - 137
            c.event(0, "VMRESUME", ())
        c.flush_all()
        data += bytes(c.out)
    text = same(data)
    assert "0.2us" in text and "-0.0us" in text and "us?" in text


def test_same_text_for_a_very_long_console_line():
    """A line built from thousands of records (far more than one render
    call's items) comes out whole, at the time of its first record."""
    from hvtools import frame
    from test_hvlog_util import Capture
    c = Capture()
    c.raw(b"\x00")
    c.hello(2)
    for k in range(3000):
        c.say(0, b"x%04d-" % k + "é".encode() * (k % 3))
        if k % 40 == 39:
            c.flush(frame.CONSOLE, 0)
    c.say(0, b"end\n")
    c.flush_all()
    text = same(bytes(c.out), chunks=(None, 4096))
    line = [l for l in text.splitlines() if "end" in l][0]
    assert len(line) > 3000 * 6 and line.endswith("x2999-ééend")
