"""Synthetic serial captures for the hvlog tests, made the way the
hypervisor makes them (records.BatchEncoder + frame.Encoder), with the
truth kept beside them so the tests can compare."""
import random

from hvtools import catalog, frame, records

KHZ = 2_000_000
GRUB = b"\x1b[2JGRUB loading.\r\nWelcome to GRUB!\r\n  Booting `hv'\r\n"


class Capture:
    def __init__(self, cat=None, crc=None):
        self.cat = cat or catalog.default()
        self.enc = frame.Encoder()
        self.out = bytearray()
        self.tsc = 1_000_000
        self.seq = {}                   # (channel, cpu) -> next record seq
        self.pending = {}               # (channel, cpu) -> [(kind, seq, lost, tsc, x)]
        self.text = {}                  # cpu -> all console text sent
        self.events = {}                # cpu -> [Record-like tuples] delivered
        self.lost_text = {}
        self.crc = self.cat.crc if crc is None else crc
        self.crc_errors = 0
        self.frames_dropped = {}        # (channel, cpu) -> frames
        self.ring_lost = {}             # cpu -> records

    def raw(self, data):
        self.out += data

    def hello(self, ncpus, khz=KHZ):
        self.out += self.enc.frame(frame.CONTROL, 0, records.encode_hello(self.crc, ncpus, khz))

    def _rec(self, ch, cpu, kind, x, lost=0):
        k = (ch, cpu)
        seq = self.seq.get(k, 0) + lost
        self.seq[k] = seq + 1
        self.tsc += 137
        self.pending.setdefault(k, []).append((kind, seq, lost, self.tsc, x))
        return seq, self.tsc

    def say(self, cpu, text: bytes):
        self._rec(frame.CONSOLE, cpu, "text", text)

    def event(self, cpu, name, args, lost=0):
        return self._rec(frame.TRACE, cpu, "event", (name, tuple(args)), lost)

    def flush(self, ch, cpu, drop=False):
        """Send the pending records as frames; drop=True: the frames never
        arrive (a link gap), their seq numbers are still used."""
        k = (ch, cpu)
        recs = self.pending.pop(k, [])
        b = records.BatchEncoder(self.cat)
        frames = []

        def add(r):
            kind, seq, lost, tsc, x = r
            if kind == "text":
                return b.add_text(seq, lost, tsc, x)
            return b.add_event(seq, lost, self.cat.id_of(x[0]), tsc, x[1])
        for r in recs:
            if not add(r):
                frames.append(bytes(b.buf))
                b.reset()
                assert add(r)
        if b.count:
            frames.append(bytes(b.buf))
        for p in frames:
            f = self.enc.frame(ch, cpu, p)
            if drop:
                self.frames_dropped[k] = self.frames_dropped.get(k, 0) + 1
            else:
                self.out += f
        if drop:
            return
        for kind, seq, lost, tsc, x in recs:
            if kind == "text":
                self.text[cpu] = self.text.get(cpu, b"") + x
            else:
                self.events.setdefault(cpu, []).append((x[0], x[1], seq, tsc))
                if lost:
                    self.ring_lost[cpu] = self.ring_lost.get(cpu, 0) + lost

    def flush_all(self):
        for ch, cpu in sorted(self.pending):
            self.flush(ch, cpu)

    def corrupt_copy(self, payload=b"not delivered"):
        """A frame damaged on the line: one flipped bit, a CRC error."""
        f = bytearray(frame.encode(frame.CONSOLE, 1, 999, payload))
        f[5] ^= 0x04
        self.out += f
        self.crc_errors += 1

    def guest(self, data: bytes):
        self.out += self.enc.frame(frame.GUEST, 0, data)

    def lines(self, cpu):
        return self.text.get(cpu, b"").decode().split("\n")[:-1]


def standard(ncpus=3, seed=5, rounds=30):
    """GRUB text, two HELLOs, every CPU printing and tracing, one CRC error,
    one dropped TRACE frame on CPU 1, a ring loss of 7 on CPU 2."""
    rng = random.Random(seed)
    c = Capture()
    c.raw(GRUB + b"\x00")
    c.hello(0, 0)
    c.hello(ncpus)
    for r in range(rounds):
        for cpu in range(ncpus):
            c.say(cpu, b"cpu%d round %d: " % (cpu, r))
            c.event(cpu, "VMEXIT", (rng.choice([10, 30, 32]), 0xffffffff81000000 + r))
            c.say(cpu, b"value=%d\n" % rng.randrange(1000))
            lost = 7 if (cpu == 2 and r == 10) else 0
            c.event(cpu, "NMI_ENTER", (0xffff800000001000 + r, 1), lost=lost)
            c.event(cpu, "NMI_EXIT", (0xffff800000001000 + r, 1))
            if r % 3 == 0:
                c.say(cpu, b"tick %d\n" % r)
            c.flush(frame.CONSOLE, cpu)
            c.flush(frame.TRACE, cpu, drop=(cpu == 1 and r == 12))
        if r == 7:
            c.corrupt_copy()
        if r == 20:
            c.guest(b"guest: hello\nlogin: ")
    c.guest(b"root\n")
    return c


def test_capture_builder_is_decodable():
    c = standard()
    out, fd, td = records.decode_stream(bytes(c.out), c.cat)
    assert fd.stats.errors["crc"] == 1
    assert td.ring_lost == 7 and td.link_lost_frames == 1
