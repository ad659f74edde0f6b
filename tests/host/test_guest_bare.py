"""The test guest (guest/) booted bare -- no hypervisor -- from its GRUB boot
disk, in QEMU TCG and in Bochs. Bare, the hypervisor-dependent checks must
FAIL with "no hypervisor present" and everything else must PASS: the exact
pattern below. The same guest under the hypervisor must turn every line to
PASS (tests/system/)."""
import fcntl
import os
import re
import subprocess
import time

import pytest

import disk  # guest/disk.py
from hvtools.emu import RUNS_DIR, Machine
from testpaths import ROOT

GUEST_ELF = os.path.join(ROOT, "build", "guest", "guest.elf")
HV_BASE = 0x4000000            # the hypervisor's load address (hv/boot/hv.ld)
NOHV = "no hypervisor present"

# scenarios=all, in order: check -> "PASS", or NOHV (FAIL because bare).
ALL_BARE = [
    ("selftest", [("ud_caught", "PASS"), ("de_caught", "PASS"), ("gp_caught", "PASS"),
                  ("pf_caught", "PASS"), ("no_false_fault", "PASS")]),
    ("cpuid", [("hypervisor_bit", NOHV), ("vmx_hidden", NOHV), ("vendor_leaf", NOHV),
               ("abi_version", NOHV)]),
    ("msr", [("feature_control", NOHV), ("feature_control_write_gp", NOHV),
             ("vmx_basic_gp", NOHV), ("vmx_caps_gp", NOHV)]),
    ("cr4", [("vmxe_reads_0", NOHV), ("vmxe_set_gp", NOHV)]),
    ("e820", [("map_present", "PASS"), ("footprint_hidden", NOHV),
              ("meminfo_below_footprint", NOHV)]),
    ("hvmem", [("write_gp", NOHV), ("unchanged", NOHV)]),
    ("vmcall", [("ping", NOHV), ("regs_preserved", NOHV), ("unknown_function", NOHV),
                ("footprint", NOHV), ("print_good", NOHV), ("print_cross_page", NOHV),
                ("print_bad_address", NOHV),
                ("print_too_long", NOHV), ("print_footprint", NOHV)]),
    ("trustvisor", [("cpuid_leaf", NOHV)]),
    ("trustvisor_pal", [("reg_add", NOHV)]),
    ("trustvisor_utpm", [("seal", NOHV)]),
    ("trustvisor_utpm_pal", [("reg", NOHV)]),
]

CHECK_RX = re.compile(r"^CHECK (\w+)\.(\w+): (PASS|FAIL)(?: (.*))?$")


@pytest.fixture(scope="module")
def guest_elf():
    """Build the guest (cheap when up to date) exactly as the Makefile does."""
    os.makedirs(os.path.join(ROOT, "build", "guest"), exist_ok=True)
    # pytest-xdist workers share the tree: one make at a time.
    with open(os.path.join(ROOT, "build", "guest", ".build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = subprocess.run(["make", "-s", "-f", "guest/guest.mk", "guest"], cwd=ROOT,
                           capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    return GUEST_ELF


class Run:
    """A finished guest boot: its serial text, parsed."""

    def __init__(self, machine):
        self.machine = machine
        text = machine.text.replace("\r", "")
        start = text.find("GUEST START")
        self.grub_text = text[:max(start, 0)]
        self.lines = text[start:].splitlines() if start >= 0 else []
        self.checks = []
        for line in self.lines:
            m = CHECK_RX.match(line)
            if m:
                self.checks.append((m.group(1), m.group(2), m.group(3), m.group(4) or ""))
        self.scenarios = [l.split(":")[0].split()[1] for l in self.lines
                          if l.startswith("SCENARIO ")]

    def summary(self):
        m = [re.match(r"^GUEST SUMMARY passed=(\d+) failed=(\d+)$", l) for l in self.lines]
        m = [x for x in m if x]
        assert len(m) == 1, self.lines
        return int(m[0].group(1)), int(m[0].group(2))

    def text(self):
        return "\n".join(self.lines)


@pytest.fixture
def boot_guest(request, guest_elf):
    """boot_guest(scenarios, emu='qemu', poweroff=True, args='', cpus=1,
    model='corei7_skylake_x', **machine) -> Run once GUEST DONE is printed
    (and, with poweroff, the emulator exited)."""
    machines = []
    failed_before = request.session.testsfailed
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:60]

    def _boot(scenarios="all", emu="qemu", poweroff=True, args="", timeout=120,
              wait_exit=True, cpus=1, model="corei7_skylake_x", **kw):
        img = disk.build_guest_disk(scenarios, poweroff, args, elf=guest_elf)
        m = Machine(emu=emu, disks=[img], cpus=cpus, model=model, timeout=timeout,
                    workdir=os.path.join(RUNS_DIR, f"{slug}-{os.getpid()}-{len(machines)}"),
                    name=slug, kvm=False, **kw)
        machines.append(m)
        m.start()
        m.wait_for(r"GUEST DONE", timeout=timeout)
        if poweroff and wait_exit:
            m.wait_exit(timeout=30)          # powered itself off
        return Run(m)

    yield _boot
    # The call phase is reported before teardown: keep the run directories
    # (serial.raw, emulator logs) of a failed test.
    failed = request.session.testsfailed > failed_before
    for m in machines:
        m.stop()
        if failed:
            print(f"kept run directory: {m.workdir}")
        else:
            m.remove_workdir()


def expected(scenarios):
    return [(s, c, r) for s, checks in ALL_BARE if s in scenarios for c, r in checks]


def assert_pattern(run, want):
    got = [(s, c, "PASS" if r == "PASS" else why) for s, c, r, why in run.checks]
    assert [(s, c) for s, c, _ in got] == [(s, c) for s, c, _ in want], run.text()
    for (s, c, g), (_, _, w) in zip(got, want):
        if w == "PASS":
            assert g == "PASS", f"{s}.{c}: {g}\n{run.text()}"
        else:
            assert g.startswith(w), f"{s}.{c}: want FAIL {w!r}, got {g!r}\n{run.text()}"


def assert_bare_all(run):
    assert run.lines and run.lines[0] == "GUEST START scenarios=all poweroff=1", run.text()
    assert any(l.startswith(f"INFO guest: {NOHV}") for l in run.lines), run.text()
    assert run.scenarios == [s for s, _ in ALL_BARE], run.text()
    assert_pattern(run, expected([s for s, _ in ALL_BARE]))
    npass = sum(1 for *_, r in expected([s for s, _ in ALL_BARE]) if r == "PASS")
    assert run.summary() == (npass, len(run.checks) - npass)
    assert run.lines[-1] == "GUEST DONE", run.text()
    assert not [l for l in run.lines if "GUEST FAULT" in l], run.text()
    # Every line is one of the documented kinds.
    kinds = ("GUEST START ", "INFO ", "SCENARIO ", "CHECK ", "GUEST SUMMARY ", "GUEST DONE")
    assert all(l.startswith(kinds) for l in run.lines if l), run.text()
    # The e820 scenario printed the map GRUB passed.
    assert [l for l in run.lines if l.startswith("INFO e820: map base=")], run.text()


# ---- without an emulator ---------------------------------------------------------
def test_guest_elf_layout(guest_elf):
    """Loaded low (never near the hypervisor at 0x4000000), a multiboot2
    header in the first 32 KiB of the file, entry inside the image."""
    from elftools.elf.elffile import ELFFile
    with open(guest_elf, "rb") as f:
        elf = ELFFile(f)
        loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        assert loads
        for s in loads:
            assert 0x100000 <= s["p_paddr"] and s["p_paddr"] + s["p_memsz"] <= 0x1000000, \
                hex(s["p_paddr"])
            assert s["p_paddr"] + s["p_memsz"] <= HV_BASE
        assert any(s["p_vaddr"] <= elf.header["e_entry"] < s["p_vaddr"] + s["p_filesz"]
                   for s in loads)
        f.seek(0)
        head = f.read(32768)
    off = head.find((0xe85250d6).to_bytes(4, "little"))
    assert off >= 0 and off % 8 == 0
    magic, arch, length, csum = (int.from_bytes(head[off + i:off + i + 4], "little")
                                 for i in (0, 4, 8, 12))
    assert (magic + arch + length + csum) & 0xffffffff == 0


def test_guest_cmdline_and_grub_cfg():
    assert disk.guest_cmdline() == "scenarios=all poweroff=1"
    assert disk.guest_cmdline(["cpuid", "msr"], False, "uartinit=0") == \
        "scenarios=cpuid,msr uartinit=0"
    with pytest.raises(ValueError):
        disk.guest_cmdline("cpuid msr")
    cfg = disk.guest_grub_cfg("scenarios=all")
    assert "multiboot2 /boot/guest.elf scenarios=all\n" in cfg
    assert "serial --unit=0 --speed=115200" in cfg


def test_hvabi_signature_constants():
    """The signature registers in hvabi.h spell HVABI_SIGNATURE."""
    text = open(os.path.join(ROOT, "abi", "hvabi.h")).read()
    vals = {k: int(v, 16) for k, v in
            re.findall(r"#define HVABI_SIG_(E[BCD]X)\s+0x([0-9a-fA-F]+)u", text)}
    sig = re.search(r'#define HVABI_SIGNATURE\s+"([^"]+)"', text).group(1)
    raw = b"".join(vals[r].to_bytes(4, "little") for r in ("EBX", "ECX", "EDX"))
    assert raw.decode() == sig == "DebugFirstHV"


# ---- bare boots --------------------------------------------------------------------
@pytest.mark.emulator
def test_qemu_bare_all(boot_guest):
    run = boot_guest("all", emu="qemu")
    assert_bare_all(run)
    assert run.machine.returncode == 0          # ACPI S5: QEMU exits cleanly


@pytest.mark.emulator
def test_bochs_bare_all(boot_guest):
    run = boot_guest("all", emu="bochs")
    assert_bare_all(run)                         # Bochs exits on ACPI soft power-off


@pytest.mark.emulator
def test_qemu_selected_scenarios_and_unknown_name(boot_guest):
    run = boot_guest("e820,nosuch,selftest", emu="qemu")
    assert run.scenarios == ["e820", "selftest"], run.text()
    unknown = [c for c in run.checks if c[:2] == ("guest", "scenarios")]
    assert len(unknown) == 1 and unknown[0][2] == "FAIL", run.text()
    assert "unknown scenario 'nosuch'" in unknown[0][3] and "vmcall" in unknown[0][3]
    want = [("e820", c, r) for c, r in dict(ALL_BARE)["e820"]] + \
        [("selftest", c, r) for c, r in dict(ALL_BARE)["selftest"]]
    run.checks = [c for c in run.checks if c[0] != "guest"]
    assert_pattern(run, want)
    assert run.summary() == (6, 3)


@pytest.mark.emulator
def test_qemu_unexpected_exception_is_reported(boot_guest):
    """scenarios=crash: an unhandled #UD gives GUEST FAULT with vector and
    RIP, the summary (counting it) and GUEST DONE -- never a silent hang."""
    run = boot_guest("selftest,crash,cpuid", emu="qemu")
    fault = [l for l in run.lines if l.startswith("GUEST FAULT vector=")]
    assert fault and re.match(r"GUEST FAULT vector=0x06 \(#UD\) error=0x0 rip=0x2[0-9a-f]{5} ",
                              fault[0]), run.text()
    assert run.scenarios == ["selftest", "crash"], run.text()   # cpuid never ran
    assert run.summary() == (5, 1)
    assert run.lines[-1] == "GUEST DONE", run.text()


@pytest.mark.emulator
def test_qemu_without_poweroff_halts(boot_guest):
    """No poweroff=1: the guest halts after GUEST DONE and the machine stays up."""
    run = boot_guest("selftest", emu="qemu", poweroff=False)
    assert run.summary() == (5, 0)
    time.sleep(1.0)
    assert run.machine.poll() is None, "the emulator exited without poweroff=1"


@pytest.mark.emulator
@pytest.mark.parametrize("emu", ["qemu", "bochs"])
def test_vmcall_helper_bare(boot_guest, emu):
    """scenarios=vmcall_ud: bare, VMCALL raises #UD; the guest's VMCALL
    helper (used by every hypercall check) catches it with all registers
    intact."""
    run = boot_guest("vmcall_ud", emu=emu)
    assert [c[:3] for c in run.checks] == [("vmcall_ud", "raises_ud", "PASS"),
                                           ("vmcall_ud", "regs_intact", "PASS")], run.text()
    assert run.summary() == (2, 0)
