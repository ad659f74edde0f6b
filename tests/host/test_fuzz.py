"""Runs every libFuzzer target (tests/fuzz/fuzz_*.c, built by make into
build/fuzz/) for a short while on a small generated seed corpus; a crash,
sanitizer report, leak or timeout fails the test. HV_FUZZ_SECONDS sets the
time per target (default 20)."""
import glob
import os
import random
import subprocess

import pytest

from testpaths import BUILD, ROOT
from hvtools import catalog, frame, records

SOURCES = sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz", "fuzz_*.c")))
SECONDS = int(os.environ.get("HV_FUZZ_SECONDS", "20"))


def seed_corpus(d):
    """Valid frames and trace batches, damaged copies, and a little noise."""
    rng = random.Random(1)
    cat = catalog.default()
    enc = frame.Encoder()
    seeds = [b"", b"\x00", b"\x01\x01\x00", bytes(range(256))]
    stream = bytearray(b"\x00")
    stream += enc.frame(frame.CONTROL, 0, records.encode_hello(cat.crc, 2, 1000))
    ids = [e.id for e in cat.events.values() if not e.is_text]
    for cpu in range(2):
        b = records.BatchEncoder(cat, cap=120)
        seq, tsc = rng.randrange(1 << 30), rng.randrange(1 << 40)
        for _ in range(30):
            seq += 1 + (rng.randrange(5) if rng.random() < 0.1 else 0)
            tsc += rng.randrange(5000)
            eid = rng.choice(ids)
            args = [rng.choice([0, 32, 0xffffffff81000000 + rng.randrange(1 << 20)])
                    for _ in range(cat.nargs(eid))]
            if not b.add_event(seq, 0, eid, tsc, args):
                stream += enc.frame(frame.TRACE, cpu, bytes(b.buf))
                seeds.append(bytes(b.buf))
                b.reset()
                b.add_event(seq, 0, eid, tsc, args)
        b.reset()
        b.add_text(seq + 1, 3, tsc, b"CPU(0x00): hello\n")
        stream += enc.frame(frame.CONSOLE, cpu, bytes(b.buf))
        seeds.append(bytes(b.buf))
    seeds.append(bytes(stream))
    damaged = bytearray(stream)
    for _ in range(10):
        damaged[rng.randrange(len(damaged))] ^= 0x20
    seeds.append(bytes(damaged))
    seeds.append(frame.encode(frame.GDB, 0, 0, b"$qSupported#37"))
    seeds.append(frame.encode(frame.GUEST, 0, 1, bytes(512)))
    seeds += rsp_seeds()
    for i, s in enumerate(seeds):
        with open(os.path.join(d, f"seed{i:03d}"), "wb") as f:
            f.write(s)


def rsp_packet(body: bytes) -> bytes:
    return b"$" + body + b"#%02x" % (sum(body) & 0xFF)


def rsp_seeds():
    """gdb sessions for fuzz_rsp (its first byte picks the set-up): the
    packets gdb 13 sends, acks, a nak, no-ack mode, an escaped X, a monitor
    command, break-ins and a few damaged packets."""
    session = [b"qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+",
               b"vMustReplyEmpty", b"Hg0", b"qXfer:features:read:target.xml:0,ffb",
               b"qTStatus", b"?", b"qfThreadInfo", b"qsThreadInfo", b"qAttached",
               b"qThreadExtraInfo,2", b"g", b"p10", b"P10=1000100000000000",
               b"m100000,40", b"M101000,4:05000000", b"X101000,4:}]}\x03\x00*",
               b"Z0,100040,1", b"vCont?", b"vCont;c", b"Hg2", b"z0,100040,1",
               b"vCont;s:2;c", b"T2", b"qC", b"Z2,101000,4", b"c", b"s100020",
               b"C05;100000", b"qRcmd,63707573", b"mdead000000000000,8", b"D"]
    out = []
    for cfg in (0x00, 0x03, 0x08, 0x0B):
        wire = b"+" + b"".join(rsp_packet(p) + b"+" for p in session)
        out.append(bytes([cfg]) + wire)
    noack = b"".join(rsp_packet(p) for p in session[5:])
    out.append(b"\x01+" + rsp_packet(b"QStartNoAckMode") + b"+" + noack)
    out.append(b"\x09" + rsp_packet(b"c") + b"\x03" + rsp_packet(b"?") + b"-")
    out.append(b"\x02junk$g#00$g$qC#b4$}#7d-" + rsp_packet(b"m100000,ffffffff"))
    out.append(b"\x00" + rsp_packet(b"A" * 5000) + rsp_packet(b"qC"))
    return out


@pytest.mark.parametrize("src", SOURCES, ids=[os.path.basename(s)[:-2] for s in SOURCES])
def test_fuzz(src, tmp_path):
    binary = os.path.join(BUILD, "fuzz", os.path.basename(src)[:-2])
    assert os.path.exists(binary), f"{binary} not built: run make host"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seed_corpus(str(corpus))
    proc = subprocess.run(
        [binary, f"-max_total_time={SECONDS}", "-rss_limit_mb=1024", "-timeout=10",
         "-print_final_stats=1", f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, timeout=SECONDS + 120)
    tail = "\n".join(proc.stderr.splitlines()[-40:])
    assert proc.returncode == 0, f"{binary} failed ({proc.returncode}):\n{tail}"
    assert "Done" in proc.stderr, tail
