"""hvlog command line (host-tools/hvlog)."""
from __future__ import annotations

import argparse
import os
import sys

from elftools.common.exceptions import ELFError

from .. import catalog as _catalog
from .. import commands as _commands
from .. import frame as _frame
from ..catalog import ROOT
from ..stop_signals import StopSignals
from ..stream import CatalogRefused
from ..term import RawTerminal
from . import perfetto, sequence
from .filters import FilterError
from .gdbbridge import BridgeError, GdbBridge
from .keyboard import HELP, KeyForwarder
from .live import LiveDecoder
from .pump import Pump
from .results import Results
from .sources import FdSource, FileSource, SerialSource, Source, SourceError, TcpSource

EPILOG = """\
sources (exactly one):
  --serial DEV [--baud N]   a serial port (pyserial)
  --tcp HOST:PORT           Bochs com1 mode=socket-server, QEMU -serial tcp:...,server
  --file PATH [--follow]    a capture (e.g. results/*/raw.bin); --follow = tail -f
  -                         standard input

--sequence FROM:TO   execution-sequence table (markdown, one column per CPU);
  each end is a TSC (1234567 or 0x12d687), a time since the first record
  (150us, 2.5ms, 1s; needs the TSC rate from HELLO) or CPU#SEQ (2#1200: the
  TSC of CPU 2's record 1200); an empty end is open: "2#1200:" or ":".

keys (live source, stdin a terminal): typed keys go to the guest as GUEST
  frames; Ctrl-] q quits, Ctrl-] s summary, Ctrl-] Ctrl-] sends Ctrl-].

Decoding goes through the hypervisor's C cores (build/host/libhvtrace.so,
make host); without them, or with HVTRACE_LIB=none, in Python (slower).

Filters change what is shown, exported and tabulated; raw.bin and
decoded.log always keep everything. Exit status: 0 ok, 2 bad input,
3 catalogue mismatch (see --force-catalog).

examples:
  hvlog --tcp 127.0.0.1:4555 --label nmi-storm
  hvlog --file results/20240101-120000/raw.bin --cpu 0,1 --event 'NMI_*'
  hvlog --file raw.bin -q --sequence 1#300:1#340 --class nmi,quiesce
  hvlog --serial /dev/ttyUSB0 --baud 115200 --gdb-port 1234
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hvlog", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Split and decode the hypervisor's framed serial line: every CPU's "
                    "console, the guest console, the trace, the GDB channel.",
        epilog=EPILOG)
    p.add_argument("stdin", nargs="?", metavar="-", help="read standard input")
    src = p.add_argument_group("source")
    src.add_argument("--serial", metavar="DEV")
    src.add_argument("--baud", type=int, default=115200)
    src.add_argument("--tcp", metavar="HOST:PORT")
    src.add_argument("--file", metavar="PATH")
    src.add_argument("--follow", action="store_true", help="keep reading a growing file")
    src.add_argument("--connect-timeout", type=float, default=10.0, metavar="S",
                     help="keep trying to connect to --tcp this long (default 10)")
    dec = p.add_argument_group("decoding")
    dec.add_argument("--elf", help="hv.elf for symbols (default build/hv.elf if present)")
    dec.add_argument("--no-elf", action="store_true", help="do not symbolise")
    dec.add_argument("--catalog", metavar="EVENTS_DEF",
                     help="decode with this events.def (names.def beside it)")
    dec.add_argument("--force-catalog", action="store_true",
                     help="decode even if HELLO names another catalogue (warns)")
    show = p.add_argument_group("what to show")
    show.add_argument("--cpu", metavar="LIST", help="only these CPUs: 0,2 or 0-3")
    show.add_argument("--event", action="append", metavar="GLOBS",
                      help="only these trace events: VMEXIT,NMI_*")
    show.add_argument("--class", dest="classes", action="append", metavar="NAMES",
                      help="only these event classes: nmi,quiesce")
    show.add_argument("--no-trace", action="store_true", help="hide trace events")
    show.add_argument("--no-console", action="store_true", help="hide console lines")
    show.add_argument("--no-guest", action="store_true", help="hide the guest console")
    show.add_argument("--no-color", action="store_true", help="plain text output")
    show.add_argument("-q", "--quiet", action="store_true",
                      help="no live log (summary, exports and files still made)")
    out = p.add_argument_group("output")
    out.add_argument("--save", dest="save", action="store_true", default=None,
                     help="save under results/ (default for live sources)")
    out.add_argument("--no-save", dest="save", action="store_false",
                     help="save nothing (default for --file without --follow)")
    out.add_argument("--results", default=os.path.join(ROOT, "results"), metavar="DIR",
                     help="results root (default: the repo's results/)")
    out.add_argument("--label", help="suffix of the results folder name")
    out.add_argument("--perfetto", metavar="OUT.json",
                     help="write a Chrome/Perfetto trace-event JSON")
    out.add_argument("--sequence", metavar="FROM:TO",
                     help="print the execution-sequence table of this window")
    live = p.add_argument_group("live")
    live.add_argument("--gdb-port", type=int, metavar="N",
                      help="gdb `target remote 127.0.0.1:N` reaches the hypervisor's stub")
    live.add_argument("--send", action="append", metavar="CMD", default=[],
                      help="send a host command once the hypervisor's HELLO is seen: "
                           "exit-stats, dump-events, trace-mask:MASK, "
                           "nmi-storm:cpus=0+1,interval=US,rounds=N,duration=MS, "
                           "nmi-storm:stop (repeatable)")
    live.add_argument("--no-keys", action="store_true",
                      help="do not forward the keyboard to the guest")
    return p


def _die(msg: str, code: int = 2) -> int:
    print(f"hvlog: {msg}", file=sys.stderr)
    return code


def open_source(a: argparse.Namespace) -> Source:
    chosen = [x for x in (a.serial, a.tcp, a.file, a.stdin) if x is not None]
    if len(chosen) != 1:
        raise SourceError("give exactly one source: --serial DEV, --tcp HOST:PORT, "
                          "--file PATH or - (stdin)")
    if a.stdin is not None:
        if a.stdin != "-":
            raise SourceError(f"unexpected argument {a.stdin!r} (did you mean --file {a.stdin}?)")
        return FdSource(0)
    if a.file is not None:
        if not os.path.exists(a.file):
            raise SourceError(f"no such file: {a.file}")
        return FileSource(a.file, a.follow)
    if a.tcp is not None:
        return TcpSource(a.tcp, a.connect_timeout)
    return SerialSource(a.serial, a.baud)


def _elf(a: argparse.Namespace) -> str | None:
    if a.no_elf:
        return None
    if a.elf:
        if not os.path.isfile(a.elf):
            raise SourceError(f"--elf {a.elf}: no such file")
        return a.elf
    for cand in (os.path.join("build", "hv.elf"), os.path.join(ROOT, "build", "hv.elf")):
        if os.path.isfile(cand):
            return cand
    return None


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    try:
        cat = _catalog.default() if not a.catalog else _catalog.Catalog.load(
            a.catalog, os.path.join(os.path.dirname(a.catalog), "names.def"))
    except (OSError, _catalog.CatalogError) as e:
        return _die(f"cannot load the catalogue: {e}")
    window = None
    try:
        if a.sequence is not None:
            window = sequence.parse_window(a.sequence)
        elf = _elf(a)
    except (sequence.WindowError, SourceError) as e:
        return _die(str(e))
    color = not a.no_color and sys.stdout.isatty()
    say = lambda msg: print(f"hvlog: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        dec = LiveDecoder(cat, elf, cpus=a.cpu, events=a.event, classes=a.classes,
                          trace=not a.no_trace, console=not a.no_console,
                          guest=not a.no_guest, out=None if a.quiet else sys.stdout,
                          color=color, force_catalog=a.force_catalog,
                          keep=bool(a.perfetto or window), fast=True)
    except FilterError as e:
        return _die(str(e))
    except (OSError, ELFError) as e:        # unreadable or not an ELF
        return _die(f"cannot read symbols from {elf}: {e}")
    if not dec.stream.native:
        say(f"C decoder not used ({dec.stream.native_why}): decoding in Python, slower")

    try:
        src = open_source(a)
    except SourceError as e:
        return _die(str(e))
    try:
        commands = [_commands.parse(c) for c in a.send]
    except _commands.CommandError as e:
        return _die(str(e))
    if commands and not src.writable:
        return _die(f"--send needs a source that can be written to, not {src.describe()}")
    enc = _frame.Encoder()          # host -> hv frame seqs (GUEST, GDB)
    bridge = None
    if a.gdb_port is not None:
        if not src.writable:
            return _die(f"--gdb-port needs a source that can be written to, not {src.describe()}")
        try:
            bridge = GdbBridge(a.gdb_port, src.write, enc, dec.stats, say=say)
        except BridgeError as e:
            return _die(str(e))
        say(f"gdb: target remote 127.0.0.1:{bridge.port}")
    save = a.save if a.save is not None else src.live
    res = None
    if save:
        try:
            res = Results(a.results, a.label)
        except OSError as e:
            return _die(f"cannot create the results folder under {a.results}: {e}")
        dec.log = res.log
        say(f"saving to {res.path}/")

    use_keys = src.writable and not a.no_keys and sys.stdin.isatty()
    # Ctrl-C goes to the guest; Ctrl-] q quits.
    term = RawTerminal(0, signals=False) if use_keys else None

    def action(act: str) -> None:
        if act == "summary":
            sys.stderr.write(dec.summary().replace("\n", "\r\n"))
        elif act == "help":
            say(HELP)

    pump = Pump(src, dec, res.write_raw if res else None, bridge,
                KeyForwarder(enc) if use_keys else None, term, on_action=action,
                commands=commands)
    pump.encoder = enc              # one frame sequence for keys, gdb and commands

    stop = StopSignals(interrupt=True)      # the first one ends pump.run()

    rc = 0
    notes = [f"source:          {src.describe()}",
             "decoder:         " + ("C core (libhvtrace.so)" + (", C text" if dec.fast else "")
                                    if dec.stream.native else
                                    f"Python ({dec.stream.native_why})")]
    try:
        if term is not None:
            term.__enter__()
            say(HELP.replace("hvlog keys: ", "keys: "))
        try:
            pump.run()
        finally:
            stop.closing()
            if term is not None:
                term.restore()
    except KeyboardInterrupt:
        notes.append("interrupted:     yes (Ctrl-C / signal)")
    except CatalogRefused as e:
        rc = 3
        say(f"{e}\nhvlog: refusing to decode a trace made with another catalogue: rebuild "
            f"the hypervisor from this tree, or use --catalog with the matching "
            f"events.def, or --force-catalog to decode anyway")
        notes.append(f"refused:         {e}")
    finally:
        src.close()
        if bridge:
            bridge.close()
    try:
        if rc != 3:
            dec.close()
    except CatalogRefused:
        pass
    summary = dec.summary(notes)
    sys.stderr.write("\n" + summary)
    if res:
        res.write_text("summary.txt", summary)
    if a.perfetto and rc == 0:
        try:
            n = perfetto.write(a.perfetto, dec.kept, dec.clock, dec.cat, dec.symbolize,
                               dec.ncpus)
            say(f"perfetto: {n} events in {a.perfetto}")
        except OSError as e:
            rc = _die(f"cannot write {a.perfetto}: {e.strerror}")
    if window is not None and rc == 0:
        try:
            tab = sequence.table(dec.kept, window, dec.clock, dec.cat, dec.symbolize,
                                 sorted(dec.filter.cpus) if dec.filter.cpus else range(dec.ncpus))
            sys.stdout.write(tab)
            if res:
                res.write_text("sequence.md", tab)
        except sequence.WindowError as e:
            rc = _die(str(e))
    if res:
        res.close()
        say(f"saved {res.path}/ (raw.bin {pump.bytes_in} bytes)")
    stop.done()
    return rc
