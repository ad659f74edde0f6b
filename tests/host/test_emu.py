"""The emulator harness (hvtools.emu) and image builder (hvtools.image),
tested without the hypervisor: GRUB-only images whose grub.cfg talks on the
serial line, and a tiny multiboot2 kernel assembled here."""
import os
import signal
import subprocess
import textwrap
import time

import pytest

from testpaths import ROOT
from hvtools import image
from hvtools.emu import EmuDied, EmuTimeout, Machine

PY = "/usr/bin/python3"
MODS = image.DEFAULT_MODULES + ("read",)

HEAD = "serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\n"


def grub_iso(body, name="t"):
    return image.build_grub_image(HEAD + textwrap.dedent(body), install_modules=MODS,
                                  name=f"test-{name}")


@pytest.fixture(scope="module")
def ok_iso():
    # Marker on the serial line and on port 0xE9, then power off.
    return grub_iso("""\
        outb 0xe9 0x45
        outb 0xe9 0x39
        outb 0xe9 0x0a
        echo HARNESS-OK
        halt
        """, "ok")


@pytest.fixture(scope="module")
def sleep_iso():
    return grub_iso("echo SLEEPING\nsleep 100000\n", "sleep")


@pytest.fixture(scope="module")
def echo_iso():
    return grub_iso("echo READY\nread line\necho \"GOT:$line\"\nhalt\n", "echo")


@pytest.fixture(scope="session")
def echo_wait_iso():
    """echo_iso that waits for a second line instead of halting, so a test
    decides when the run ends."""
    return grub_iso("echo READY\nread line\necho \"GOT:$line\"\nread more\nhalt\n",
                    "echo-wait")


def gone(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def workdir(tmp_path, name="run"):
    return str(tmp_path / name)


# ---- image.py (no emulator) ------------------------------------------------

def test_hv_grub_cfg_shape():
    cfg = image.hv_grub_cfg("serial=115200 x=1", ["/a/mod.bin", ("(hd0)+1", "", True),
                                                   ("/b/guest.img", "role=guest")])
    lines = cfg.splitlines()
    assert lines[0].startswith("serial --unit=0 --speed=115200")
    assert "terminal_output serial console" in lines
    assert "multiboot2 /boot/hv.elf serial=115200 x=1" in lines
    assert "module2 /boot/mod0-mod.bin" in lines
    assert "module2 --nounzip (hd0)+1" in lines
    assert "module2 /boot/mod2-guest.img role=guest" in lines
    assert lines.index("boot") > lines.index("module2 /boot/mod2-guest.img role=guest")
    assert "menuentry" not in cfg


def tiny_elf(path, byte, debug=False):
    """A real (relocatable) ELF file holding one data byte: what the image
    builder's objcopy accepts; with debug, a .debug_info section too."""
    src = path.with_suffix(".s")
    src.write_text(f".data\n.byte {byte}\n" +
                   (".section .debug_info,\"\",@progbits\n.fill 4096,1,7\n" if debug else ""))
    subprocess.run(["as", "--64", "-o", str(path), str(src)], check=True)


def test_build_iso_cache(tmp_path):
    elf = tmp_path / "fake.elf"
    tiny_elf(elf, 0)
    cache = str(tmp_path / "cache")
    a = image.build_iso(str(elf), "a=1", cache_dir=cache)
    ino = os.stat(a).st_ino
    assert image.build_iso(str(elf), "a=1", cache_dir=cache) == a
    assert os.stat(a).st_ino == ino, "rebuilt instead of reusing the cache"
    assert os.path.getsize(a) > 100_000
    b = image.build_iso(str(elf), "a=2", cache_dir=cache)
    assert b != a
    tiny_elf(elf, 1)
    assert image.build_iso(str(elf), "a=1", cache_dir=cache) not in (a, b)
    out = tmp_path / "o" / "hv.iso"
    assert image.build_iso(str(elf), "a=1", out=str(out), cache_dir=cache) == str(out)
    # The grub.cfg inside is the one we asked for.
    cfg = tmp_path / "grub.cfg"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(out), "-extract",
                    "/boot/grub/grub.cfg", str(cfg)], check=True, capture_output=True)
    assert "multiboot2 /boot/hv.elf a=1" in cfg.read_text()


def test_boot_copy_leaves_the_debug_sections_out(tmp_path):
    """GRUB reads every section of the ELF it boots; the image carries the
    hypervisor without its DWARF (gdb and hvlog use build/hv.elf)."""
    elf = tmp_path / "dbg.elf"
    tiny_elf(elf, 5, debug=True)
    copy = image.boot_copy(str(elf), cache_dir=str(tmp_path / "cache"))
    sections = lambda f: subprocess.run(["objdump", "-h", f], check=True, capture_output=True,  # noqa: E731
                                        text=True).stdout
    assert ".debug_info" in sections(str(elf))
    assert ".debug_info" not in sections(copy) and ".data" in sections(copy)
    assert os.path.getsize(copy) < os.path.getsize(elf) - 4000
    assert image.boot_copy(str(elf), cache_dir=str(tmp_path / "cache")) == copy


def test_image_cli(tmp_path):
    elf = tmp_path / "fake.elf"
    tiny_elf(elf, 0)
    out = tmp_path / "hv.iso"
    p = subprocess.run([PY, os.path.join(ROOT, "host-tools", "hvtools", "image.py"),
                        "--elf", str(elf), "--cmdline", "serial=115200,8n1,0x3f8",
                        "-o", str(out), "--module", f"{elf}=role=x"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert out.stat().st_size > 100_000


# ---- Bochs ------------------------------------------------------------------

@pytest.mark.emulator
@pytest.mark.parametrize("cpus", [1, 2])
def test_bochs_boots_grub(ok_iso, tmp_path, cpus):
    t0 = time.monotonic()
    with Machine(iso=ok_iso, cpus=cpus, model="corei7_skylake_x",
                 workdir=workdir(tmp_path), timeout=60) as m:
        m.wait_for(rb"HARNESS-OK", timeout=40)
        seen = time.monotonic() - t0
        assert m.wait_exit(timeout=20) is not None   # GRUB's halt powers off
        pgid = m.pgid
    assert gone(pgid)
    assert b"E9\n" in m.e9_output
    assert b"HARNESS-OK" in open(m.serial_path, "rb").read()
    assert any("soft power off" in l for l in m.log_problems())
    print(f"bochs {cpus} cpu(s): marker after {seen:.2f}s")


@pytest.mark.emulator
def test_bochs_icelake_socket_io(echo_iso, tmp_path):
    with Machine(iso=echo_iso, model="corei7_icelake_u", serial="socket",
                 workdir=workdir(tmp_path), timeout=60) as m:
        m.wait_for(rb"READY", timeout=40)
        m.write(b"hello\r")
        m.wait_for(r"GOT:hello", timeout=20)
        pgid = m.pgid
    assert gone(pgid)
    assert b"GOT:hello" in open(m.serial_path, "rb").read()


@pytest.mark.emulator
def test_bochs_boots_grub_image_as_disk(ok_iso, tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(open(ok_iso, "rb").read())
    with Machine(disks=[str(disk)], workdir=workdir(tmp_path), timeout=60) as m:
        m.wait_for(rb"HARNESS-OK", timeout=40)
        m.wait_exit(timeout=20)
    assert not os.path.exists(str(disk) + ".lock")


@pytest.mark.emulator
def test_timeout_raises_and_cleans_up(sleep_iso, tmp_path):
    with pytest.raises(EmuTimeout) as ei:
        with Machine(iso=sleep_iso, workdir=workdir(tmp_path)) as m:
            m.wait_for(rb"SLEEPING", timeout=40)
            pgid = m.pgid
            m.wait_for(rb"NEVER", timeout=2)
    msg = str(ei.value)
    assert "NEVER" in msg and "SLEEPING" in msg and m.workdir in msg
    assert "emulator log tail" in msg
    assert gone(pgid) and not m.alive


@pytest.mark.emulator
def test_run_time_limit(sleep_iso, tmp_path):
    m = Machine(iso=sleep_iso, workdir=workdir(tmp_path), timeout=3)
    with m:
        pgid = m.pgid
        with pytest.raises(EmuTimeout, match="run time limit"):
            m.wait_for(rb"NEVER", timeout=60)
        assert m.timed_out and gone(pgid)


@pytest.mark.emulator
def test_exception_in_with_block_cleans_up(sleep_iso, tmp_path):
    with pytest.raises(KeyError):
        with Machine(iso=sleep_iso, workdir=workdir(tmp_path)) as m:
            pgid = m.pgid
            m.wait_for(rb"SLEEPING", timeout=40)
            raise KeyError("boom")
    assert gone(pgid)
    m.stop()     # idempotent


@pytest.mark.emulator
def test_emulator_exit_raises_died(ok_iso, tmp_path):
    with Machine(iso=ok_iso, workdir=workdir(tmp_path)) as m:
        with pytest.raises(EmuDied) as ei:
            m.wait_for(rb"NEVER", timeout=60)
    assert "soft power off" in str(ei.value)      # PANIC line surfaced
    assert "HARNESS-OK" in str(ei.value)          # serial tail surfaced


@pytest.mark.emulator
def test_killed_runner_leaves_nothing(sleep_iso, tmp_path):
    """PR_SET_PDEATHSIG: SIGKILL the Python process owning the Machine."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.path.join(ROOT, 'host-tools')!r})
        from hvtools.emu import Machine
        m = Machine(iso={sleep_iso!r}, workdir={workdir(tmp_path)!r}).start()
        print(m.pgid, flush=True)
        time.sleep(120)
    """)
    p = subprocess.Popen([PY, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pgid = int(p.stdout.readline())
        assert not gone(pgid)
        p.kill()
        p.wait()
        deadline = time.monotonic() + 10
        while not gone(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gone(pgid)
    finally:
        p.kill()


def test_emulator_not_started_when_its_runner_died_before_the_death_signal(tmp_path):
    """The window PR_SET_PDEATHSIG leaves open: a runner that dies before
    the child arms it. The guard between setpriv and the emulator runs the
    program only while its parent is still the runner it was started for."""
    from hvtools.emu.process import PARENT_GONE, guarded_argv
    ran = tmp_path / "ran"
    stranger = os.getppid()     # any live pid that is not the child's parent
    p = subprocess.run(guarded_argv(["touch", str(ran)], stranger))
    assert p.returncode == PARENT_GONE and not ran.exists()
    p = subprocess.run(guarded_argv(["touch", str(ran)], os.getpid()))
    assert p.returncode == 0 and ran.exists()


# ---- QEMU -------------------------------------------------------------------

@pytest.mark.emulator
def test_qemu_boots_grub(ok_iso, tmp_path):
    with Machine(emu="qemu", iso=ok_iso, cpus=2, kvm=False, qmp=True,
                 workdir=workdir(tmp_path), timeout=60) as m:
        # The QMP socket exists while QEMU runs (QEMU removes it when the
        # guest powers off, which may come right after HARNESS-OK).
        deadline = time.monotonic() + 20
        while not os.path.exists(m.qmp_path) and m.alive and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.exists(m.qmp_path)
        m.wait_for(rb"HARNESS-OK", timeout=40)
        m.wait_exit(timeout=20)
        pgid = m.pgid
    assert gone(pgid)
    assert m.e9_output == b"E9\n"


@pytest.mark.emulator
def test_qemu_socket_io(echo_iso, tmp_path):
    with Machine(emu="qemu", iso=echo_iso, serial="socket", kvm=False,
                 workdir=workdir(tmp_path), timeout=60) as m:
        m.wait_for(rb"READY", timeout=40)
        m.write(b"qemu\r")
        m.wait_for(rb"GOT:qemu", timeout=20)


# ---- a real multiboot2 kernel through build_iso ------------------------------

MB2_ASM = r"""
    .set MAGIC, 0xe85250d6
    .text
    .align 8
hdr:
    .long MAGIC, 0, hdr_end - hdr, -(MAGIC + 0 + (hdr_end - hdr))
    .short 0, 0
    .long 8
hdr_end:
    .code32
    .globl _start
_start:
    mov %ebx, %esi            /* multiboot2 info */
    mov $msg, %ecx
1:  movb (%ecx), %al
    test %al, %al
    jz 2f
    call putc
    inc %ecx
    jmp 1b
2:  lea 8(%esi), %ebx         /* first tag */
3:  mov (%ebx), %eax
    test %eax, %eax
    jz 6f
    cmp $1, %eax              /* command line tag */
    jne 5f
    lea 8(%ebx), %ecx
4:  movb (%ecx), %al
    test %al, %al
    jz 5f
    call putc
    inc %ecx
    jmp 4b
5:  mov 4(%ebx), %eax         /* next tag: size rounded up to 8 */
    add $7, %eax
    and $~7, %eax
    add %eax, %ebx
    jmp 3b
6:  mov $'#', %al
    call putc
7:  cli
    hlt
    jmp 7b
putc:
    mov %al, %ah
    mov $0x3fd, %dx
8:  in %dx, %al
    test $0x20, %al
    jz 8b
    mov $0x3f8, %dx
    mov %ah, %al
    out %al, %dx
    ret
msg: .asciz "MB2-OK cmdline="
"""


@pytest.fixture(scope="module")
def mb2_elf(tmp_path_factory):
    d = tmp_path_factory.mktemp("mb2")
    (d / "k.S").write_text(MB2_ASM)
    subprocess.run(["gcc", "-m32", "-c", "-o", str(d / "k.o"), str(d / "k.S")], check=True)
    subprocess.run(["ld", "-m", "elf_i386", "-Ttext=0x100000",
                    "-e", "_start", "-o", str(d / "k.elf"), str(d / "k.o")], check=True)
    return str(d / "k.elf")


@pytest.mark.emulator
def test_build_iso_boots_multiboot2(mb2_elf, tmp_path):
    iso = image.build_iso(mb2_elf, "serial=115200,8n1,0x3f8 hello=1")
    with Machine(iso=iso, cpus=1, workdir=workdir(tmp_path), timeout=60) as m:
        m.wait_for(rb"MB2-OK cmdline=serial=115200,8n1,0x3f8 hello=1#", timeout=40)


# ---- hvrun --------------------------------------------------------------------

@pytest.mark.emulator
def test_hvrun_forwards_keys_and_stops_on_ctrl_c(echo_wait_iso, tmp_path):
    """hvrun on a pseudo-terminal: keystrokes reach the guest, Ctrl-C stops it,
    and Ctrl-C pressed again while it stops the emulator and saves the
    capture changes nothing (a user hammers the key; once, such a press
    killed hvrun by SIGINT)."""
    import pty
    import select as sel
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(PY, [PY, os.path.join(ROOT, "host-tools", "hvrun"), "--emu", "bochs",
                      "--cpus", "1", "--iso", echo_wait_iso, "--raw",
                      "--workdir", workdir(tmp_path)])
    buf = b""

    def expect(what, limit=40):
        nonlocal buf
        deadline = time.monotonic() + limit
        while what not in buf and time.monotonic() < deadline:
            r, _, _ = sel.select([fd], [], [], 0.2)
            if r:
                try:
                    buf += os.read(fd, 4096)
                except OSError:
                    break
        assert what in buf, buf

    try:
        expect(b"READY")
        os.write(fd, b"tty\r")
        expect(b"GOT:tty")
    finally:
        deadline = time.monotonic() + 15
        presses = 0
        while time.monotonic() < deadline:
            if presses < 20:                # Ctrl-C through the terminal, every 20 ms
                os.write(fd, b"\x03")
                presses += 1
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            try:
                sel.select([fd], [], [], 0.02) and os.read(fd, 4096)
            except OSError:
                pass
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("hvrun did not stop on Ctrl-C")
        os.close(fd)
    import re
    bochs_pid = int(re.search(rb"bochs pid (\d+)", buf).group(1))
    assert gone(bochs_pid)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert presses > 1                      # some came while hvrun was stopping
    with open(os.path.join(workdir(tmp_path), "serial.raw"), "rb") as f:
        assert b"GOT:tty" in f.read()       # the capture was saved
