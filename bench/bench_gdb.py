#!/usr/bin/python3
"""Stock gdb against the hypervisor's GDB stub, side by side in one run:

1. Bochs (corei7_skylake_x, 2 CPUs), gdb=wait, framed transport (the GDB
   channel of the multiplexed line) and Bochs again with gdb=raw-wait
   guest=none (the line is plain RSP): inside gdb, time.monotonic() around
   `maintenance flush register-cache` + `info registers` (the `g` packet)
   and around `dump binary memory` of 64 KiB from hv_start. A recorder
   between gdb and the serial line logs every chunk with its time, its
   bytes on the wire (frames included) and its RSP bytes, so each timed
   window gets exact wire bytes, RSP bytes and packets.
2. QEMU TCG's own gdbstub (-S, the same GRUB image stopped at the reset
   vector), the same command sequence through a counting TCP proxy: wire
   bytes and round trips, the anchor (its time is TCP's, not comparable).
3. Break-in latency: in the framed run, after the measurements, gdb
   continues into the test guest's `gdb` scenario; once it spins, SIGINT to
   gdb (it sends 0x03) a few times; the stub's own line "gdb: break-in: 0x03
   seen to this CPU stopped N us, then every CPU parked M us" (TSC, i.e.
   emulated time) is decoded from the serial console.

The line's capacity at 115200 8N1 is 11520 bytes/s. Bochs paces its UART
in emulated time (clock: sync=none, ips=25M), so its wall-clock rate is
whatever Bochs' speed makes of that: the console's peak rate during boot is
printed as the control, and the fractions are what was measured.
"""
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host-tools"))
sys.path.insert(0, os.path.join(ROOT, "guest"))

import disk  # noqa: E402  guest/disk.py
from hvtools import frame, image  # noqa: E402
from hvtools.emu import Machine, free_port  # noqa: E402
from hvtools.hvlog.keyboard import guest_frames  # noqa: E402
from hvtools.image import Module  # noqa: E402
from hvtools.session import Session  # noqa: E402

HV_ELF = os.path.join(ROOT, "build", "hv.elf")
CPUS = 2
LINE_BPS = 115200 // 10          # 8N1: 10 bit times per byte
MEM_LEN = 65536
QEMU_MEM = 0x100000              # low RAM; QEMU stops at the reset vector
BREAKINS = 5
BREAK_RE = re.compile(r"gdb: break-in: 0x03 seen to this CPU stopped (\d+) us, "
                      r"then every CPU parked (\d+) us")


def hv_symbol(name):
    from elftools.elf.elffile import ELFFile
    with open(HV_ELF, "rb") as f:
        for sym in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if sym.name == name:
                return sym["st_value"]
    raise KeyError(name)


# ---- recording -----------------------------------------------------------------
class Recorder:
    """Chunks as they pass: (time, 'up' (gdb->stub) or 'down', wire bytes,
    RSP bytes). Wire bytes are what the serial line (or QEMU's socket)
    carries, frames and other channels' frames included."""

    def __init__(self):
        self.lock = threading.Lock()
        self.chunks = []

    def add(self, direction, wire, rsp):
        with self.lock:
            self.chunks.append((time.monotonic(), direction, wire, bytes(rsp)))

    def serve_marks(self):
        """A control port: gdb's Python sends a mark name per line and
        waits for 'ok' before it goes on. Returns the port."""
        lst = socket.create_server(("127.0.0.1", 0))

        def run():
            c, _ = lst.accept()
            lst.close()
            f = c.makefile("rb")
            for line in f:
                self.mark(line.strip().decode())
                c.sendall(b"ok\n")
        threading.Thread(target=run, daemon=True).start()
        return lst.getsockname()[1]

    def mark(self, name):
        with self.lock:
            self.chunks.append((time.monotonic(), "mark", 0, name))

    def window(self, start, end):
        """Totals of the chunks between the marks `start` and `end`. gdb
        sets a mark (through the control socket, waiting for its answer)
        only after its command returned, so every byte of a step lies
        between its two marks: byte-exact, however short the step."""
        out = {"up_wire": 0, "down_wire": 0, "up_rsp": b"", "down_rsp": b""}
        inside = False
        with self.lock:
            for t, d, wire, rsp in self.chunks:
                if d == "mark":
                    if rsp == start:
                        inside = True
                    elif rsp == end:
                        break
                    continue
                if inside:
                    out[d + "_wire"] += wire
                    out[d + "_rsp"] += rsp
        return out

    def text(self, direction):
        with self.lock:
            return b"".join(c[3] for c in self.chunks if c[1] == direction)

    def wait_for(self, direction, pattern, since, timeout):
        """Waits until the RSP bytes after `since` (a count of chunks) in
        that direction match; returns the chunk count after the match."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                n = len(self.chunks)
                data = b"".join(c[3] for c in self.chunks[since:] if c[1] == direction)
            if rx.search(data):
                return n
            time.sleep(0.05)
        raise TimeoutError(f"{pattern!r} not seen {direction} in {timeout} s")


class SerialLink:
    """gdb's TCP port <-> the emulated serial line, two blocking threads (no
    polling delay added to a round trip). framed: gdb's bytes go as GDB
    frames, GDB frame payloads come back (console, trace and guest frames
    stay on the line and count as wire bytes); raw: bytes as they are."""

    def __init__(self, machine, framed, rec):
        self.m, self.framed, self.rec = machine, framed, rec
        self.enc = frame.Encoder()
        self.dec = frame.FrameDecoder()
        self.guest = bytearray()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.client = None
        self.stopping = False
        # Raw: the boot text before this point is not gdb's.
        self.pos = 0 if framed else len(machine.output)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.client, _ = self.listener.accept()
        threading.Thread(target=self._down, daemon=True).start()
        threading.Thread(target=self._up, daemon=True).start()

    def _down(self):
        while not self.stopping:
            data = self.m.read_since(self.pos, timeout=0.5)
            if not data:
                if not self.m.alive:
                    return
                continue
            self.pos += len(data)
            if self.framed:
                rsp = bytearray()
                for f in self.dec.feed(data):
                    if isinstance(f, frame.Frame) and f.type == frame.GDB:
                        rsp += f.payload
                    elif isinstance(f, frame.Frame) and f.type == frame.GUEST:
                        self.guest += f.payload
            else:
                rsp = data
            self.rec.add("down", len(data), rsp)
            if rsp:
                try:
                    self.client.sendall(rsp)
                except OSError:
                    return

    def _up(self):
        while not self.stopping:
            try:
                data = self.client.recv(65536)
            except OSError:
                return
            if not data:
                return
            wire = guest_frames(self.enc, data, frame.GDB) if self.framed else data
            self.rec.add("up", len(wire), data)
            try:
                self.m.write(wire)
            except Exception:
                return

    def close(self):
        self.stopping = True
        for s in (self.client, self.listener):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass


class TcpProxy:
    """gdb's TCP port <-> QEMU's gdbstub port, recording both directions."""

    def __init__(self, target_port, rec):
        self.target_port, self.rec = target_port, rec
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        c, _ = self.listener.accept()
        end = time.monotonic() + 30
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", self.target_port))
                break
            except OSError:
                if time.monotonic() > end:
                    c.close()
                    return
                time.sleep(0.1)
        for x in (c, s):
            x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socks = [c, s]
        threading.Thread(target=self._pump, args=(c, s, "up"), daemon=True).start()
        threading.Thread(target=self._pump, args=(s, c, "down"), daemon=True).start()

    def _pump(self, a, b, direction):
        while True:
            try:
                data = a.recv(65536)
            except OSError:
                return
            if not data:
                try:
                    b.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            self.rec.add(direction, len(data), data)
            try:
                b.sendall(data)
            except OSError:
                return

    def close(self):
        for s in self.socks + [self.listener]:
            try:
                s.close()
            except OSError:
                pass


class RateSampler:
    """len(machine.output) every 20 ms: the console's peak wall-clock rate
    over any 1 s window (the control for the UART's pacing)."""

    def __init__(self, machine):
        self.m, self.samples, self.stopping = machine, [], False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.stopping:
            self.samples.append((time.monotonic(), len(self.m.output)))
            time.sleep(0.02)

    def stop(self):
        self.stopping = True

    def peak(self, window=1.0):
        best, j = 0.0, 0
        s = self.samples
        for i in range(len(s)):
            while s[i][0] - s[j][0] > window:
                j += 1
            if s[i][0] - s[j][0] >= window * 0.9:
                best = max(best, (s[i][1] - s[j][1]) / (s[i][0] - s[j][0]))
        return best


# ---- gdb ---------------------------------------------------------------------
def gdb_script(port, ctl_port, addr, elf, extra_py="", clock=False):
    head = ["set pagination off", "set confirm off", "set width 0", "set height 0",
            "set code-cache off", "set stack-cache off"]
    head += [f"file {elf}"] if elf else ["set architecture i386:x86-64"]
    head += ["set remotetimeout 120", f"target remote 127.0.0.1:{port}"]
    dump = tempfile.mktemp(prefix="hvbench-mem-")
    py = f"""python
import time, os, re, socket
ctl = socket.create_connection(("127.0.0.1", {ctl_port}))
ctlf = ctl.makefile("rb")
CLOCK = {clock}
def mark(name):
    ctl.sendall((name + "\\n").encode())
    ctlf.readline()
def clock():
    # The target's own time (`monitor clock`: its TSC in us), so a step's
    # cost is measured in the emulated machine's time, on either transport.
    return int(re.search(r"us (\\d+)", gdb.execute("monitor clock", to_string=True)).group(1))
if CLOCK:
    a = clock()
    print("@@ECOST %d" % (clock() - a), flush=True)
def timed(name, cmds):
    c0 = clock() if CLOCK else 0
    mark(name + ".start")
    t0 = time.monotonic()
    for c in cmds:
        gdb.execute(c, to_string=True)
    t1 = time.monotonic()
    mark(name + ".end")
    if CLOCK:
        print("@@E %s %d" % (name, clock() - c0), flush=True)
    print("@@T %s %.6f %.6f" % (name, t0, t1), flush=True)
timed("regs", ["maintenance flush register-cache", "info registers"])
timed("mem", ["dump binary memory {dump} {addr:#x} {addr + MEM_LEN:#x}"])
print("@@MEMSIZE %d" % os.path.getsize("{dump}"), flush=True)
os.unlink("{dump}")
{extra_py.replace("BREAKINS", str(BREAKINS)).format(dump=dump, addr=addr, addr_end=addr + MEM_LEN)}
end
"""
    return "\n".join(head) + "\n" + py + "detach\n"


BREAK_PY = """
for i in range(BREAKINS):
    print("@@CONT %d" % i, flush=True)
    try:
        gdb.execute("continue")
    except gdb.error as e:
        print("@@ERR", e, flush=True)
    print("@@STOPPED %d" % i, flush=True)
# The control: the same reads inside the last break-in stop, whose length
# in emulated time the stub's GDB_STOP and GDB_RESUME events give.
timed("regsc", ["maintenance flush register-cache", "info registers"])
timed("memc", ["dump binary memory {dump}c {addr:#x} {addr_end:#x}"])
os.unlink("{dump}c")
"""


def start_gdb(workdir, script):
    path = os.path.join(workdir, "bench.gdb")
    with open(path, "w") as f:
        f.write(script)
    out = open(os.path.join(workdir, "gdb.out"), "w")
    return subprocess.Popen(["gdb", "-nx", "-batch", "-x", path], stdout=out,
                            stderr=subprocess.STDOUT, text=True)


def gdb_out(workdir):
    with open(os.path.join(workdir, "gdb.out")) as f:
        return f.read()


def wait_gdb_text(workdir, pattern, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = re.search(pattern, gdb_out(workdir))
        if m:
            return m
        time.sleep(0.2)
    raise TimeoutError(f"gdb never printed {pattern!r}:\n{gdb_out(workdir)[-2000:]}")


def packets(rsp):
    """'$' packets in an RSP byte stream (gdb never sends a bare '$' inside
    one: binary data escapes it)."""
    return rsp.count(b"$")


def measure(rec, out):
    """{name: figures} from gdb's @@T lines and the recorder's chunks."""
    res = {}
    for name, t0, t1 in re.findall(r"^@@T (\w+) ([\d.]+) ([\d.]+)$", out, re.M):
        t0, t1 = float(t0), float(t1)
        w = rec.window(name + ".start", name + ".end")
        rsp_bytes = len(w["up_rsp"]) + len(w["down_rsp"])
        if os.environ.get("BENCH_GDB_DEBUG"):
            print(f"-- {name} up: {w['up_rsp'][:3000]!r}")
            print(f"-- {name} down: {w['down_rsp'][:1500]!r}")
        res[name] = {"elapsed": t1 - t0, "wire": w["up_wire"] + w["down_wire"],
                     "wire_down": w["down_wire"], "rsp": rsp_bytes,
                     "rt": packets(w["up_rsp"]),
                     "fraction": rsp_bytes / ((t1 - t0) * LINE_BPS)}
    # Emulated time: the stub's clock read before and after each step, less
    # one clock exchange (two back-to-back reads), which the pair adds.
    cost = re.search(r"^@@ECOST (\d+)$", out, re.M)
    for name, us in re.findall(r"^@@E (\w+) (\d+)$", out, re.M):
        if name in res and cost:
            e = max(1, int(us) - int(cost.group(1))) / 1e6
            res[name]["emul"] = e
            res[name]["fraction_emul"] = res[name]["rsp"] / (e * LINE_BPS)
    m = re.search(r"^@@MEMSIZE (\d+)", out, re.M)
    res["memsize"] = int(m.group(1)) if m else None
    return res


# ---- the runs --------------------------------------------------------------------
def run_bochs(framed):
    """One Bochs boot; returns (figures, console peak B/s, break-ins, notes)."""
    notes = []
    if framed:
        img = disk.build_guest_disk(scenarios="gdb", poweroff=False)
        iso = image.build_iso(HV_ELF, "serial=115200,8n1,0x3f8 gdb=wait",
                              modules=[Module("(hd0)+1", nounzip=True)])
        m = Machine(iso=iso, disks=[img], boot="cdrom", cpus=CPUS, serial="socket",
                    timeout=1500, name="bench-gdb-framed")
    else:
        iso = image.build_iso(HV_ELF, "serial=115200,8n1,0x3f8 gdb=raw-wait guest=none")
        m = Machine(iso=iso, boot="cdrom", cpus=CPUS, serial="socket", timeout=900,
                    name="bench-gdb-raw")
    rec = Recorder()
    breaks = []
    with m:
        sampler = RateSampler(m)
        if framed:
            end = time.monotonic() + 600
            while not Session.decode(m.output).find(r"gdb: gdb=wait"):
                if time.monotonic() > end or not m.alive:
                    raise RuntimeError(m.describe("no gdb=wait stop"))
                time.sleep(0.2)
        else:
            m.wait_for(rb"smp: \d+ of \d+ CPUs online", timeout=600)
            time.sleep(3)
        sampler.stop()
        link = SerialLink(m, framed, rec)
        addr = hv_symbol("hv_start")
        gdb = start_gdb(m.workdir, gdb_script(link.port, rec.serve_marks(), addr, HV_ELF,
                                              BREAK_PY if framed else "", clock=True))
        try:
            if framed:
                breaks, why = break_ins(m, gdb, link, rec)
                if why:
                    notes.append(why)
            gdb.wait(timeout=600)
        finally:
            if gdb.poll() is None:
                gdb.kill()
            link.close()
        out = gdb_out(m.workdir)
        clock = None
        if framed:
            time.sleep(3)       # detached: the rings drain the stop's events
            sess = Session.decode(m.output)
            breaks = [(int(a), int(b)) for a, b in BREAK_RE.findall(sess.text())]
            clock = stop_clock(sess, rec)
            if clock is None:
                notes.append("the emulated length of the last stop was not decoded: "
                             "no emulated-time control")
    figs = measure(rec, out)
    figs["clock"] = clock
    if "mem" not in figs:
        raise RuntimeError(f"gdb did not finish the timed commands:\n{out[-3000:]}")
    m.remove_workdir()
    return figs, sampler.peak(), breaks, notes


def stop_clock(sess, rec):
    """(emulated s, wall s) of the last stop: GDB_STOP to GDB_RESUME in the
    stub's TSC; on the host, the stop reply's arrival to gdb's D packet."""
    hello = sess.hello
    stops, resumes = sess.events("GDB_STOP"), sess.events("GDB_RESUME")
    if not hello or not hello.tsc_khz or not stops or not resumes:
        return None
    st = stops[-1]
    after = [r for r in resumes if r.cpu == st.cpu and r.tsc > st.tsc]
    if not after:
        return None
    emul = (after[0].tsc - st.tsc) / (hello.tsc_khz * 1000.0)
    with rec.lock:
        chunks = list(rec.chunks)
    t_d = next((t for t, d, _, r in reversed(chunks) if d == "up" and b"$D" in r), None)
    t_stop = next((t for t, d, _, r in reversed(chunks)
                   if d == "down" and b"$T" in r and (t_d is None or t < t_d)), None)
    if t_d is None or t_stop is None:
        return None
    return emul, t_d - t_stop


def break_ins(m, gdb, link, rec):
    """SIGINT to gdb during each `continue`; the first once the guest spins."""
    wait_gdb_text(m.workdir, r"@@CONT 0", 300)
    end = time.monotonic() + 900
    while b"GDB SPIN" not in link.guest:
        if time.monotonic() > end:
            return 0, "the guest never reached its spin: no break-in measured"
        time.sleep(0.2)
    done = 0
    for i in range(BREAKINS):
        wait_gdb_text(m.workdir, rf"@@CONT {i}\b", 300)
        time.sleep(1.5)
        if b"spin_done" in link.guest or b"GUEST SUMMARY" in link.guest:
            return done, f"the guest's spin ended after {done} break-ins"
        gdb.send_signal(signal.SIGINT)
        wait_gdb_text(m.workdir, rf"@@STOPPED {i}\b", 300)
        done += 1
    return done, None


def run_qemu():
    rec = Recorder()
    port = free_port()
    iso = image.build_iso(HV_ELF, "serial=115200,8n1,0x3f8")
    m = Machine(emu="qemu", iso=iso, cpus=CPUS, timeout=300, name="bench-gdb-qemu",
                extra_config=["-S", "-gdb", f"tcp:127.0.0.1:{port}"])
    with m:
        proxy = TcpProxy(port, rec)
        gdb = start_gdb(m.workdir, gdb_script(proxy.port, rec.serve_marks(), QEMU_MEM, None))
        try:
            gdb.wait(timeout=300)
        finally:
            if gdb.poll() is None:
                gdb.kill()
            proxy.close()
        out = gdb_out(m.workdir)
    figs = measure(rec, out)
    if "mem" not in figs:
        raise RuntimeError(f"gdb against QEMU did not finish:\n{out[-3000:]}")
    m.remove_workdir()
    return figs


def qemu_version():
    try:
        return subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                              text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "qemu ?"


def main():
    t_start = time.time()
    results, peaks, notes = {}, {}, []
    only = sys.argv[1:]         # development: bench_gdb.py qemu|raw|framed ...
    breaks = []
    if not only or "qemu" in only:
        try:
            results["qemu"] = run_qemu()
        except Exception as e:      # the anchor is missing, the rest stands
            notes.append(f"QEMU anchor not measured: {e}")
    if not only or "framed" in only:
        results["framed"], peaks["framed"], breaks, n1 = run_bochs(framed=True)
        notes += n1
    if not only or "raw" in only:
        results["raw"], peaks["raw"], _, _ = run_bochs(framed=False)

    print(f"gdb (stock, -batch) reads all registers and {MEM_LEN // 1024} KiB; "
          f"Bochs corei7_skylake_x {CPUS} CPUs, line 115200 8N1 = {LINE_BPS} B/s")
    print("wire = bytes on the line both ways (framed: frames and other channels included);")
    print("rsp = RSP bytes both ways; rt = '$' packets from gdb; "
          "fraction = rsp / (elapsed * 11520), in wall time (Bochs' speed) and in the "
          "machine's own time (emul: the stub's `monitor clock` around the step)")
    hdr = f"{'transport':<10}{'step':<6}{'elapsed s':>10}{'wire B':>9}{'rsp B':>9}" \
          f"{'rt':>5}{'fraction':>10}{'wire B/s':>10}{'emul s':>9}{'frac emul':>10}"
    print(hdr)
    for tr in ("framed", "raw", "qemu"):
        if tr not in results:
            print(f"{tr:<10}not measured")
            continue
        r = results[tr]
        for step in ("regs", "mem"):
            f = r[step]
            if tr == "qemu":
                print(f"{'qemu tcp':<10}{step:<6}{'(tcp)':>10}{f['wire']:>9}{f['rsp']:>9}"
                      f"{f['rt']:>5}{'-':>10}{'-':>10}")
            else:
                emul = (f"{f['emul']:>9.2f}{f['fraction_emul']:>10.2f}" if "emul" in f
                        else f"{'-':>9}{'-':>10}")
                print(f"{tr:<10}{step:<6}{f['elapsed']:>10.2f}{f['wire']:>9}{f['rsp']:>9}"
                      f"{f['rt']:>5}{f['fraction']:>10.2f}{f['wire'] / f['elapsed']:>10.0f}"
                      + emul)
        tot_w = r["regs"]["wire"] + r["mem"]["wire"]
        tot_rt = r["regs"]["rt"] + r["mem"]["rt"]
        if tr == "qemu":
            print(f"{'':<10}{'both':<6}{'':>10}{tot_w:>9}{'':>9}{tot_rt:>5}")
        else:
            el = r["regs"]["elapsed"] + r["mem"]["elapsed"]
            rsp = r["regs"]["rsp"] + r["mem"]["rsp"]
            emul = ""
            if "emul" in r["regs"] and "emul" in r["mem"]:
                e = r["regs"]["emul"] + r["mem"]["emul"]
                emul = f"{e:>9.2f}{rsp / (e * LINE_BPS):>10.2f}"
            print(f"{'':<10}{'both':<6}{el:>10.2f}{tot_w:>9}{rsp:>9}{tot_rt:>5}"
                  f"{rsp / (el * LINE_BPS):>10.2f}{tot_w / el:>10.0f}" + emul)
        if r["memsize"] != MEM_LEN:
            print(f"  !! {tr}: the dump holds {r['memsize']} bytes, not {MEM_LEN}")
    if "qemu" in results:
        q = results["qemu"]
        for tr in [t for t in ("framed", "raw") if t in results]:
            r = results[tr]
            print(f"{tr} vs QEMU: wire bytes x{(r['regs']['wire'] + r['mem']['wire']) / (q['regs']['wire'] + q['mem']['wire']):.2f}, "
                  f"round trips x{(r['regs']['rt'] + r['mem']['rt']) / max(1, q['regs']['rt'] + q['mem']['rt']):.2f}"
                  f" (below 1 beats the anchor)")
        print(f"anchor: {qemu_version()}, TCG, stopped at the reset vector (-S), "
              f"64 KiB from {QEMU_MEM:#x}")
    print("control, the UART's pacing: Bochs times its UART in emulated time "
          "(clock: sync=none, ips=25M), so wall time is Bochs' speed, not the line's")
    for tr in peaks:
        p = peaks[tr]
        print(f"  console peak during the {tr} boot: {p:.0f} B/s wall = {p / LINE_BPS:.2f} x 11520"
              " (boot text does not fill the line: no capacity figure)")
    clock = results.get("framed", {}).get("clock")
    if clock:
        emul, wall = clock
        ratio = emul / wall
        print(f"  the last break-in stop (the same two reads again, framed): {emul:.2f} s "
              f"emulated (stub TSC, GDB_STOP..GDB_RESUME) in {wall:.2f} s wall: "
              f"emulated clock = {ratio:.2f} x wall")
        mc, rc = results["framed"]["memc"], results["framed"]["regsc"]
        for label, f in (("regs", rc), ("mem", mc)):
            e = f["elapsed"] * ratio
            print(f"  framed {label:<4} in that stop: {f['elapsed']:.2f} s wall ~ {e:.2f} s "
                  f"emulated; stub->gdb wire {f['wire_down'] / e:.0f} B/s emulated; "
                  f"fraction in emulated time {f['rsp'] / (e * LINE_BPS):.2f}")
        print("  (the ratio moves with the shared host's load: it is not applied to the "
              "other steps; the table's emul columns measure each step in the machine's "
              "own time instead, on both transports)")
        for tr in [t for t in ("framed", "raw") if t in results]:
            f = results[tr]["mem"]
            print(f"  {tr:<6} mem: line-bound ceiling of the fraction (rsp / wire bytes) "
                  f"{f['rsp'] / f['wire']:.2f}")
        rate = mc["wire_down"] / (mc["elapsed"] * ratio)
        verdict = ("the UART paces at 115200 in emulated time (the stub keeps it "
                   f"{rate / LINE_BPS:.0%} busy)" if rate <= LINE_BPS * 1.05 else
                   "the emulated UART moves more than 115200 allows: no pacing")
        print(f"  => {verdict}; in wall time it runs at "
              f"{mc['wire_down'] / mc['elapsed'] / LINE_BPS:.2f} x 11520")
    else:
        print("  emulated-time control not measured (no framed run or no stop events)")
    print(f"break-in to every CPU parked (framed, guest scenario 'gdb' spinning, "
          f"{CPUS} CPUs), emulated us from the stub's TSC:")
    if breaks:
        a = [x for x, _ in breaks]
        b = [y for _, y in breaks]
        for label, v in (("0x03 seen -> this CPU stopped", a),
                         ("then every CPU parked", b),
                         ("total", [x + y for x, y in breaks])):
            print(f"  {label:<32} min {min(v):>7} median {statistics.median(v):>9} "
                  f"max {max(v):>7}  (n={len(v)})")
    else:
        print("  not measured: no break-in line was decoded")
    for n in notes:
        print(f"note: {n}")
    print(f"(bench ran in {time.time() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
