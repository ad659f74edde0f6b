# gdb command file for the hypervisor: `make gdb`, or from the repo
#   gdb -x gdb/hv.gdb
# Loads build/hv.elf and gdb/hvgdb.py (pretty-printers, hv-vmcs-fields,
# hv-rings, $hv_exit_name) and defines the hv-* commands below.
# The repo is found from the current directory upwards, or from $HV_ROOT.
# See gdb/README.md.

set pagination off
set confirm off
set print pretty on
# A 115200-baud line shared with the consoles and the trace: be patient.
set remotetimeout 10

python
import os, sys
def _hv_root():
    cands = [os.environ.get("HV_ROOT")]
    d = os.getcwd()
    while True:
        cands.append(d)
        if os.path.dirname(d) == d:
            break
        d = os.path.dirname(d)
    for c in cands:
        if c and os.path.isfile(os.path.join(c, "gdb", "hvgdb.py")) \
                and os.path.isfile(os.path.join(c, "hv", "trace", "names.def")):
            return c
    raise gdb.GdbError("hv.gdb: run gdb inside the hypervisor's repo, or set HV_ROOT")
_hv = _hv_root()
if os.path.join(_hv, "gdb") not in sys.path:
    sys.path.insert(0, os.path.join(_hv, "gdb"))
import importlib, hvgdb, hvlinux
importlib.reload(hvgdb)
hvgdb.setup(os.path.join(_hv, "build", "hv.elf"))
hvlinux.setup()
del _hv, _hv_root
end

# ---- connecting -------------------------------------------------------------

define hv-connect-framed
  if $argc == 0
    target remote 127.0.0.1:1234
  else
    target remote 127.0.0.1:$arg0
  end
end
document hv-connect-framed
hv-connect-framed [PORT]: attach to the stub over the framed line (gdb=on or
gdb=wait): hvlog --gdb-port PORT (or make run GDB_PORT=PORT) bridges the
line's GDB channel to 127.0.0.1:PORT. PORT defaults to 1234.
end

define hv-connect-raw
  if $argc != 1
    echo usage: hv-connect-raw DEVICE-or-HOST:PORT (e.g. /dev/ttyS0)\n
  else
    set serial baud 115200
    target remote $arg0
  end
end
document hv-connect-raw
hv-connect-raw DEVICE-or-HOST:PORT: attach to the stub when the line is plain
RSP (gdb=raw): a serial device at 115200 baud (/dev/ttyS0, /dev/ttyUSB0) or
an emulator's serial socket (localhost:PORT). Nothing else may read the line.
end

# ---- the stub's monitor commands ---------------------------------------------

define hv-cpus
  monitor cpus
end
document hv-cpus
hv-cpus: every CPU (thread N is cpu N-1): APIC id, stopped or not, where it
stopped (guest or hypervisor), last exit by name, guest RIP.
end

define hv-vmcs
  monitor vmcs
end
document hv-vmcs
hv-vmcs: every VMCS field of the selected thread's CPU by name (VMREAD on that
CPU). hv-vmcs-fields shows the same with widths and decoded values.
end

define hv-trace
  if $argc == 0
    monitor trace
  else
    monitor trace $arg0
  end
end
document hv-trace
hv-trace [N]: the last N (default 20, at most 100) events still held in the
selected CPU's event ring, decoded; nothing is taken out of the ring.
end

define hv-guest
  monitor guest
  maintenance flush register-cache
end
document hv-guest
hv-guest: registers and memory are the guest's from now on (the VMCS's state
of each CPU that runs one); gdb's register cache is flushed.
end

define hv-hv
  monitor hv
  maintenance flush register-cache
end
document hv-hv
hv-hv: registers and memory are the hypervisor's again (the default).
end

define hv-exits
  monitor exits
end
document hv-exits
hv-exits: VM exit counts by reason name, per CPU.
end

define hv-vcpu
  if $argc == 0
    print vcpus[$_thread > 0 ? $_thread - 1 : 0]
  else
    print vcpus[$arg0]
  end
end
document hv-vcpu
hv-vcpu [N]: vcpus[N] through the pretty-printer (default: the selected
thread's CPU). Works without a target too (the ELF's static data); print/r
shows the raw structure.
end
