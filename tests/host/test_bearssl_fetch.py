"""mk/bearssl.sh, which gets BearSSL for the micro-TPM: the pinned tarball
(already fetched by make into build/bearssl) is unpacked without asking apt;
a tarball that is not the pinned one is thrown away, and when nothing can be
fetched (no apt sources: DEBSRC_APT_ETC points nowhere) the script fails
with a message naming the tarball, leaving nothing unpacked."""
import os
import shutil
import subprocess

import pytest

from testpaths import ROOT

SCRIPT = os.path.join(ROOT, "mk", "bearssl.sh")
TARBALL = "bearssl_0.6+dfsg.1.orig.tar.xz"
FETCHED = os.path.join(ROOT, "build", "bearssl", TARBALL)


def run(out):
    env = dict(os.environ, DEBSRC_APT_ETC="/nonexistent")
    return subprocess.run(["sh", SCRIPT, str(out)], capture_output=True, text=True, env=env,
                          timeout=120)


def test_pinned_tarball_is_unpacked_offline(tmp_path):
    if not os.path.exists(FETCHED):
        pytest.fail(f"{FETCHED} missing: run make first (it fetches BearSSL)")
    shutil.copy(FETCHED, tmp_path)
    p = run(tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "bearssl-0.6" / "inc" / "bearssl.h").exists()
    assert (tmp_path / "bearssl-0.6" / "src" / "ec" / "ec_p256_m31.c").exists()


def test_other_tarball_is_refused(tmp_path):
    if not os.path.exists(FETCHED):
        pytest.fail(f"{FETCHED} missing: run make first (it fetches BearSSL)")
    data = bytearray(open(FETCHED, "rb").read())
    data[1000] ^= 0xff
    (tmp_path / TARBALL).write_bytes(bytes(data))
    p = run(tmp_path)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert f"could not get {TARBALL}" in p.stderr, p.stderr
    assert not (tmp_path / "bearssl-0.6").exists()
    assert not (tmp_path / TARBALL).exists()


def test_hypervisor_build_has_no_vector_or_aesni_instructions():
    """BearSSL is compiled with -mgeneral-regs-only and without its AES-NI /
    SSE2 / PCLMUL paths: no instruction of hv.elf (BearSSL linked in) or of
    the library names an XMM/YMM/ZMM register or is an AES-NI / PCLMUL one."""
    import re
    from testpaths import BUILD
    lib = os.path.join(BUILD, "bearssl", "libbearssl-hv.a")
    elf = os.path.join(BUILD, "hv.elf")
    for f in (lib, elf):
        assert os.path.exists(f), f"{f} not built: run make"
    syms = subprocess.run(["nm", elf], capture_output=True, text=True, check=True).stdout
    assert " br_ecdsa_i31_sign_raw" in syms and " br_chacha20_ct_run" in syms
    for f in (lib, elf):
        dis = subprocess.run(["objdump", "-d", f], capture_output=True, text=True, check=True).stdout
        bad = [l for l in dis.splitlines()
               if re.search(r"%[xyz]mm\d|\b(aes\w*|pclmul\w*|vpclmul\w*)\s", l)]
        assert not bad, f"{f}: {bad[:5]}"
