"""gdb-Python helpers for the hypervisor (loaded by gdb/hv.gdb).

Pretty-printers for struct vcpu, struct trace_ring and struct percpu, the
`hv-vmcs-fields` and `hv-rings` commands and the $hv_exit_name() function.
Every table comes from the tree itself, read when this module loads:
exit reasons and VM-instruction errors from hv/trace/names.def (through
host-tools' catalogue parser), VMCS fields from hv/vmx/vmcs_fields.def,
enum names from the ELF's debug info (the header as a fallback).

Nothing here may throw at gdb while it prints: a field that is optimized
out or sits in unreadable memory shows as <unavailable>.
"""
import os
import re
import sys

import gdb
import gdb.printing

UNAVAILABLE = "<unavailable>"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES_DEF = os.path.join(ROOT, "hv", "trace", "names.def")
VMCS_DEF = os.path.join(ROOT, "hv", "vmx", "vmcs_fields.def")

# ---- the tables, from the tree's own files ----------------------------------

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_VMCS = re.compile(r"^\s*VMCS_FIELD\(\s*(\w+)\s*,\s*(0[xX][0-9a-fA-F]+|\d+)\s*,"
                   r"\s*(W16|W32|W64|WNAT)\s*,\s*(\w+)\s*\)", re.M)
WIDTH_BITS = {"W16": 16, "W32": 32, "W64": 64, "WNAT": 64}


class VmcsField:
    def __init__(self, name, encoding, width, group):
        self.name, self.encoding, self.width, self.group = name, encoding, width, group

    def format(self, value):
        return "%#0*x" % (2 + WIDTH_BITS[self.width] // 4, value)


def parse_vmcs_fields(path=VMCS_DEF):
    """vmcs_fields.def -> [VmcsField] in the file's order."""
    with open(path) as f:
        text = _COMMENT.sub(" ", f.read())
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    return [VmcsField(m.group(1), int(m.group(2), 0), m.group(3), m.group(4))
            for m in _VMCS.finditer(text)]


def parse_name_tables(path=NAMES_DEF):
    """names.def -> {fmt: {value: name}} via host-tools' catalogue parser
    (the one that hvlog uses), so both read the file the same way."""
    tools = os.path.join(ROOT, "host-tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    from hvtools import catalog
    events = os.path.join(os.path.dirname(path), "events.def")
    return catalog.Catalog.load(events, path).tables


def _header_enum(path, enum):
    """{value: name} of `enum NAME { A, B = 3, ... }` in a header."""
    try:
        with open(path) as f:
            text = _COMMENT.sub(" ", f.read())
    except OSError:
        return {}
    m = re.search(r"enum\s+%s\s*\{(.*?)\}" % re.escape(enum), text, re.S)
    out, nxt = {}, 0
    for item in (m.group(1).split(",") if m else []):
        item = item.strip()
        if not item:
            continue
        name, _, val = item.partition("=")
        nxt = int(val.strip(), 0) if val.strip() else nxt
        out[nxt] = name.strip()
        nxt += 1
    return out


def enum_names(enum, header):
    """{value: name}: the ELF's DWARF, else the header it comes from."""
    try:
        t = gdb.lookup_type("enum " + enum)
        return {int(f.enumval): f.name for f in t.fields()}
    except (gdb.error, RuntimeError):
        return _header_enum(os.path.join(ROOT, header), enum)


VMCS_FIELDS = parse_vmcs_fields()
VMCS_BY_NAME = {f.name: f for f in VMCS_FIELDS}
_TABLES = parse_name_tables()
EXIT_NAMES = _TABLES.get("exit", {})
VMERR_NAMES = _TABLES.get("vmerr", {})


def exit_name(reason):
    """A basic exit reason by name (bit 31: the entry failed)."""
    name = EXIT_NAMES.get(reason & 0xffff, "?")
    return name + (" (entry failure)" if reason & (1 << 31) else "")


# ---- safe access ------------------------------------------------------------

_ERRORS = (gdb.error, gdb.MemoryError, RuntimeError, ValueError, OverflowError, KeyError)


def field(val, *path):
    """val.a.b..., or None if any step is missing or unreadable."""
    try:
        for name in path:
            val = val[name]
        if val.is_optimized_out:
            return None
        val.fetch_lazy()
        return val
    except _ERRORS:
        return None


def num(val, *path):
    v = field(val, *path) if path else val
    if v is None:
        return None
    try:
        return int(v)
    except _ERRORS:
        return None


def show(n, fmt="%d"):
    return UNAVAILABLE if n is None else fmt % n


def hexa(n):
    return show(n, "%#x")


def named(n, names):
    return UNAVAILABLE if n is None else "%s (%d)" % (names.get(n, "?"), n)


def flag(n):
    return UNAVAILABLE if n is None else ("true" if n else "false")


def layout(pairs, summary=""):
    """gdb's own look: {a = 1, b = 2}, one per line under `set print pretty`."""
    try:
        pretty = bool(gdb.parameter("print pretty"))
    except _ERRORS:
        pretty = False
    if pretty:
        body = "{\n" + ",\n".join("  %s = %s" % p for p in pairs) + "\n}"
    else:
        body = "{" + ", ".join("%s = %s" % p for p in pairs) + "}"
    return (summary + " " if summary else "") + body


# ---- pretty-printers --------------------------------------------------------

class VcpuPrinter:
    """struct vcpu: identity, life cycle, exits by name, NMI and step state."""

    def __init__(self, val):
        self.val = val

    def _top_exits(self, n=5):
        arr = field(self.val, "exit_count")
        if arr is None:
            return UNAVAILABLE
        try:
            lo, hi = arr.type.strip_typedefs().range()
            counts = [(num(arr[i]), i) for i in range(lo, hi + 1)]
        except _ERRORS:
            return UNAVAILABLE
        counts = sorted(((c, i) for c, i in counts if c), reverse=True)[:n]
        return "[" + ", ".join("%s %d" % (EXIT_NAMES.get(i, "?%d" % i), c)
                               for c, i in counts) + "]"

    def _step(self):
        v = self.val
        active = num(v, "step", "active")
        if active is None:
            return UNAVAILABLE
        if not active:
            return "idle"
        return "%s reg %s width %s rip %s by %s" % (
            "write" if num(v, "step", "write") else "read", hexa(num(v, "step", "reg")),
            show(num(v, "step", "width")), hexa(num(v, "step", "rip")),
            "MTF" if num(v, "step", "mtf") else "TF")

    def to_string(self):
        v = self.val
        reason = num(v, "last_reason")
        exits = num(v, "exits")
        run_states = enum_names("guest_run_state", "hv/vmx/vcpu.h")
        pairs = [
            ("index", show(num(v, "index"))),
            ("launched", flag(num(v, "launched"))),
            ("run_state", named(num(v, "run_state"), run_states)),
            ("exits", show(exits)),
            ("last_reason", UNAVAILABLE if reason is None else
             "none" if not exits else "%s (%d)" % (exit_name(reason), reason & 0xffff)),
            ("last_rip", hexa(num(v, "last_rip"))),
            ("top_exits", self._top_exits()),
            ("nmi", "{pending = %s, injected = %s, coalesced = %s, dropped = %s, "
                    "quiesce_answered = %s}" % tuple(show(num(v, f)) for f in (
                        "nmi_pending", "nmi_injected", "nmi_coalesced", "nmi_dropped",
                        "quiesce_answered"))),
            ("stopped", flag(num(v, "stopped"))),
            ("debug_stopped", flag(num(v, "debug_stopped"))),
            ("step", self._step()),
            ("events_cut", show(num(v, "events_cut"))),
            ("vmcs_phys", hexa(num(v, "vmcs_phys"))),
            ("eptp", hexa(num(v, "eptp"))),
        ]
        return layout(pairs, "vcpu %s" % show(num(v, "index")))


def ring_positions(resv, seq_hint, tail):
    """(head, next seq) from the packed word (ring.h note 1; ring_layout.h resv_head
    and resv_seq): resv = seq_lo32 << 32 | head in 8-byte units mod 2^32."""
    d = ((resv & 0xffffffff) - ((tail >> 3) & 0xffffffff)) & 0xffffffff
    head = tail + (d << 3)
    ds = (((resv >> 32) - seq_hint) & 0xffffffff)
    ds = ds - (1 << 32) if ds & 0x80000000 else ds
    return head, (seq_hint + ds) & (2 ** 64 - 1)


class TraceRingPrinter:
    """struct trace_ring: size, head/tail decoded from resv, policy, losses."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        v = self.val
        mask, resv, hint, tail = (num(v, f) for f in ("mask", "resv", "seq_hint", "tail"))
        if None in (mask, resv, hint, tail):
            head = seq = None
        else:
            head, seq = ring_positions(resv, hint, tail)
        buf = num(v, "buf")
        policies = enum_names("ring_policy", "hv/trace/ring.h")
        size = None if mask is None else (mask + 1 if buf else 0)
        pairs = [
            ("size", show(size) if size != 0 else "0 (not set up)"),
            ("head", show(head)), ("tail", show(tail)),
            ("pending_bytes", UNAVAILABLE if head is None else show(head - tail)),
            ("next_seq", show(seq)),
            ("policy", named(num(v, "policy"), policies)),
            ("dropped", show(num(v, "dropped"))),
            ("overwritten", show(num(v, "overwritten"))),
            ("invalid", show(num(v, "invalid"))),
            ("stale_skipped", show(num(v, "stale_skipped"))),
            ("nest", show(num(v, "nest"))),
            ("max_len", show(num(v, "max_len"))),
            ("buf", hexa(buf)),
        ]
        return layout(pairs, "trace_ring")


class PercpuPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        v = self.val
        pairs = [
            ("index", show(num(v, "index"))),
            ("apic_id", show(num(v, "apic_id"))),
            ("online", flag(num(v, "online"))),
            ("parked", flag(num(v, "parked"))),
            ("exc_depth", show(num(v, "exc_depth"))),
            ("nmi_count", show(num(v, "nmi_count"))),
            ("stack_base", hexa(num(v, "stack_base"))),
        ]
        return layout(pairs, "cpu %s" % show(num(v, "index")))


def build_printers():
    pp = gdb.printing.RegexpCollectionPrettyPrinter("hv")
    pp.add_printer("vcpu", "^vcpu$", VcpuPrinter)
    pp.add_printer("trace_ring", "^trace_ring$", TraceRingPrinter)
    pp.add_printer("percpu", "^percpu$", PercpuPrinter)
    return pp


# ---- VMCS dumps by field name -----------------------------------------------

_DUMP = re.compile(r"\b([A-Z][A-Z0-9_]+)\s+(0[xX][0-9a-fA-F]+|\d+|\(unreadable\))\s*$")
_DUMP_HEAD = re.compile(r"\bcpu(\d+) VMCS at (0x[0-9a-fA-F]+)")
ACTIVITY = {0: "active", 1: "HLT", 2: "shutdown", 3: "wait-for-SIPI"}
INTR_TYPES = {0: "external", 2: "NMI", 3: "hw exception", 4: "sw interrupt",
              5: "priv sw exception", 6: "sw exception", 7: "other"}


def parse_vmcs_dump(text):
    """`monitor vmcs` / fatal-path dump text -> (header, [(name, value|None)]):
    lines `NAME value` whose NAME is in vmcs_fields.def; None: unreadable."""
    head, rows = None, []
    for line in text.splitlines():
        m = _DUMP_HEAD.search(line)
        if m:
            head = "cpu%s VMCS at %s" % (m.group(1), m.group(2))
            continue
        m = _DUMP.search(line)
        if m and m.group(1) in VMCS_BY_NAME:
            rows.append((m.group(1), None if m.group(2).startswith("(")
                         else int(m.group(2), 0)))
    return head, rows


def _intr_info(v):
    if not v & (1 << 31):
        return "not valid"
    return "valid, %s, vector %d%s" % (INTR_TYPES.get((v >> 8) & 7, "?"), v & 0xff,
                                         ", error code" if v & (1 << 11) else "")


def decode_field(name, v):
    """A short meaning for the fields that have one."""
    if name == "EXIT_REASON":
        return exit_name(v)
    if name == "VM_INSN_ERROR":
        return VMERR_NAMES.get(v, "?") if v else ""
    if name == "GUEST_ACTIVITY_STATE":
        return ACTIVITY.get(v, "?")
    if name == "GUEST_INTERRUPTIBILITY":
        bits = [n for b, n in ((0, "STI"), (1, "MOV-SS"), (2, "SMI"), (3, "NMI")) if v >> b & 1]
        return "blocking " + ",".join(bits) if bits else ""
    if name in ("EXIT_INTR_INFO", "IDT_VECTORING_INFO", "ENTRY_INTR_INFO"):
        return _intr_info(v)
    return ""


def format_vmcs(rows, head=None):
    """[(name, value|None)] -> text grouped as the table groups them."""
    out = [head] if head else []
    by_group = {}
    for name, value in rows:
        by_group.setdefault(VMCS_BY_NAME[name].group, []).append((name, value))
    for group in sorted(by_group, key=["CTRL", "RO", "GUEST", "HOST"].index):
        out.append("-- %s --" % group)
        for name, value in by_group[group]:
            f = VMCS_BY_NAME[name]
            text = UNAVAILABLE if value is None else f.format(value)
            note = "" if value is None else decode_field(name, value)
            out.append("  %-24s %#06x %-4s %-18s %s" % (name, f.encoding, f.width, text,
                                                         note))
    return "\n".join(l.rstrip() for l in out)


# The VMCS fields the hypervisor copies into struct vcpu at each exit: what
# a core file or a parked CPU still shows without a VMREAD.
VCPU_MIRRORS = (("EXIT_REASON", "last_reason"), ("GUEST_RIP", "last_rip"),
                ("GUEST_RFLAGS", "last_rflags"), ("GUEST_CR0", "last_cr0"),
                ("EPT_POINTER", "eptp"), ("TSC_OFFSET", "tsc_offset"))


def vmcs_from_vcpu(vcpu):
    rows = []
    for name, member in VCPU_MIRRORS:
        n = num(vcpu, member)
        rows.append((name, None if n is None else n & (2 ** WIDTH_BITS[
            VMCS_BY_NAME[name].width] - 1)))
    exits = num(vcpu, "exits")
    head = "cpu%s VMCS at %s (the copies in vcpus[], %s)" % (
        show(num(vcpu, "index")), hexa(num(vcpu, "vmcs_phys")),
        "no exit yet" if exits == 0 else "from the last exit")
    return head, rows


class VmcsFieldsCommand(gdb.Command):
    """Format a VMCS dump by the field names of hv/vmx/vmcs_fields.def.

hv-vmcs-fields             `monitor vmcs` of the selected CPU (live target)
hv-vmcs-fields -f FILE     a dump saved in a log (monitor output or a fatal path)
hv-vmcs-fields -v N        from memory: the VMCS values vcpus[N] keeps (no target needed)
hv-vmcs-fields -t          the field table itself (name, encoding, width, group)"""

    def __init__(self):
        super().__init__("hv-vmcs-fields", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if argv[:1] == ["-t"]:
            for f in VMCS_FIELDS:
                gdb.write("%-24s %#06x %-4s %s\n" % (f.name, f.encoding, f.width, f.group))
            return
        if len(argv) == 2 and argv[0] == "-f":
            with open(os.path.expanduser(argv[1]), errors="replace") as fh:
                head, rows = parse_vmcs_dump(fh.read())
        elif len(argv) == 2 and argv[0] == "-v":
            head, rows = vmcs_from_vcpu(gdb.parse_and_eval("vcpus[%d]" % int(argv[1], 0)))
        elif not argv:
            try:
                text = gdb.execute("monitor vmcs", to_string=True)
            except gdb.error as e:
                raise gdb.GdbError("hv-vmcs-fields: %s (connect first; -v N needs no "
                                   "target)" % e) from None
            head, rows = parse_vmcs_dump(text)
        else:
            raise gdb.GdbError("usage: hv-vmcs-fields [-f FILE | -v N | -t]")
        if not rows:
            raise gdb.GdbError("no VMCS fields found%s" % (" (%s)" % head if head else ""))
        gdb.write(format_vmcs(rows, head) + "\n")


RING_NAMES = ("text", "events", "channel")     # enum in hv/trace/percpu_rings.h


class RingsCommand(gdb.Command):
    """hv-rings [N]: CPU N's trace rings (text, events, channel) with the
pretty-printer; N defaults to the selected thread's CPU (thread N+1)."""

    def __init__(self):
        super().__init__("hv-rings", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        cpu = int(arg, 0) if arg.strip() else max(selected_thread() - 1, 0)
        sym = gdb.lookup_static_symbol("cpu_rings")
        if sym is None:
            raise gdb.GdbError("no cpu_rings in this ELF (hv/trace/percpu_rings.c)")
        cr = sym.value()[cpu]
        gdb.write("cpu%d rings (ready = %s):\n" % (cpu, flag(num(cr, "ready"))))
        for i, name in enumerate(RING_NAMES):
            text = TraceRingPrinter(cr["ring"][i]).to_string().replace("\n", "\n  ")
            gdb.write("  %-8s %s\n" % (name, text))


def selected_thread():
    try:
        t = gdb.selected_thread()
        return t.num if t is not None else 0
    except _ERRORS:
        return 0


class ExitNameFunction(gdb.Function):
    """$hv_exit_name(REASON): the VM exit reason's name (hv/trace/names.def)."""

    def __init__(self):
        super().__init__("hv_exit_name")

    def invoke(self, reason):
        return exit_name(int(reason))


def setup(elf=None):
    """Registers everything; loads ELF when gdb has no program yet."""
    if elf and gdb.current_progspace().filename is None and os.path.isfile(elf):
        gdb.execute("file " + elf, to_string=True)
    gdb.printing.register_pretty_printer(None, build_printers(), replace=True)
    VmcsFieldsCommand()
    RingsCommand()
    ExitNameFunction()
