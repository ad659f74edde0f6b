"""TrustVisor's micro-TPM on BearSSL, in the emulator.

- selftest=crypto: BearSSL as built with the hypervisor's flags computes the
  published vectors; every output the hypervisor printed is also recomputed
  here with hashlib/hmac/python3-cryptography, so a wrong vector typed into
  both places would not pass.
- the test guest's trustvisor_utpm and trustvisor_utpm_pal scenarios all
  pass; the quotes they printed (one from the guest, one from inside a PAL)
  verify with host-tools/tv-verify-quote, and altered they do not; the PAL's
  PCR 0 is SHA1(0^20 || SHA1(its code page)), recomputed from guest.elf."""
import hashlib
import hmac
import os
import re
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from elftools.elf.elffile import ELFFile

import disk  # guest/disk.py
from hvtools.image import Module
from testpaths import BUILD, ROOT
from waits import wait_session, wait_text

pytestmark = pytest.mark.emulator

TOOL = os.path.join(ROOT, "host-tools", "tv-verify-quote")
M2 = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
# RFC 8439 2.8.2 and RFC 6979 A.2.5 inputs (the outputs are recomputed).
AEAD_KEY = bytes(range(0x80, 0xa0))
AEAD_NONCE = bytes.fromhex("070000004041424344454647")
AEAD_AAD = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
AEAD_PLAIN = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
              b"for the future, sunscreen would be it.")
P256_PUB = bytes.fromhex(
    "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
    "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299")


def expected_outputs():
    pcr = hashlib.sha1(bytes(20) + hashlib.sha1(b"abc").digest()).digest()
    ct = ChaCha20Poly1305(AEAD_KEY).encrypt(AEAD_NONCE, AEAD_PLAIN, AEAD_AAD)
    return {
        "sha1_abc": hashlib.sha1(b"abc").digest(),
        "sha1_448bit": hashlib.sha1(M2).digest(),
        "sha1_million_a": hashlib.sha1(b"a" * 1000000).digest(),
        "sha256_abc": hashlib.sha256(b"abc").digest(),
        "sha256_448bit": hashlib.sha256(M2).digest(),
        "sha256_million_a": hashlib.sha256(b"a" * 1000000).digest(),
        "pcr_extend": pcr,
        "hmac_sha256_rfc4231_1": hmac.new(b"\x0b" * 20, b"Hi There", "sha256").digest(),
        "hmac_sha256_rfc4231_2": hmac.new(b"Jefe", b"what do ya want for nothing?",
                                          "sha256").digest(),
        "hmac_sha256_rfc4231_6": hmac.new(
            b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
            "sha256").digest(),
        "chacha20poly1305_rfc8439_ct": ct[:-16],
        "chacha20poly1305_rfc8439_tag": ct[-16:],
        "chacha20poly1305_rfc8439_open": b"\x01",
        "chacha20poly1305_altered_ct_tag_differs": b"\x01",
        "ecdsa_p256_rfc6979_verify": b"\x01",
        "ecdsa_p256_bad_sig_refused": b"\x01",
        "ecdsa_p256_other_msg_refused": b"\x01",
    }


def p256_verifies(pub, msg, sig):
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pub)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        key.verify(der, msg, ec.ECDSA(hashes.SHA256()))
        return True
    except Exception:
        return False


def test_crypto_selftest_in_the_hypervisor(boot):
    m = boot(cmdline="selftest=crypto guest=none", cpus=1)
    s = wait_text(m, r"selftest crypto: \d+ vectors, \d+ failed", timeout=400)
    summary = s.find(r"selftest crypto: (\d+) vectors, (\d+) failed")
    assert summary and summary.groups() == ("18", "0"), s.text()
    text = s.text()
    got = {}
    for name, verdict, n in re.findall(r"selftest crypto: (\w+) (ok|FAILED) (\d+) bytes$", text, re.M):
        parts = re.findall(rf"selftest crypto: {name} @(\d+) ([0-9a-f]+)$", text, re.M)
        out = b"".join(bytes.fromhex(h) for _, h in sorted(parts, key=lambda p: int(p[0])))
        assert len(out) == int(n), (name, n, parts)
        got[name] = (verdict, out)
    assert len(got) == 18, sorted(got)
    assert all(v == "ok" for v, _ in got.values()), got
    for name, want in expected_outputs().items():
        assert got[name][1] == want, f"{name}: hypervisor {got[name][1].hex()}, host {want.hex()}"
    # The deterministic signature verifies over "sample" with python3-cryptography.
    sig = got["ecdsa_p256_rfc6979_sign"][1]
    assert len(sig) == 64 and p256_verifies(P256_PUB, b"sample", sig)


def pal_measurement():
    """PCR 0 of the scenario's PAL: its one CODE page is guest.elf's
    tvu_template page."""
    with open(os.path.join(BUILD, "guest", "guest.elf"), "rb") as f:
        elf = ELFFile(f)
        sym = elf.get_section_by_name(".symtab").get_symbol_by_name("tvu_template")[0]
        addr = sym["st_value"]
        for sec in elf.iter_sections():
            if sec["sh_addr"] <= addr < sec["sh_addr"] + sec["sh_size"] and sec["sh_type"] == "SHT_PROGBITS":
                off = addr - sec["sh_addr"]
                page = sec.data()[off:off + 4096]
                break
    page += bytes(4096 - len(page))
    return hashlib.sha1(bytes(20) + hashlib.sha1(page).digest()).digest()


def verify_tool(pub, info, sig, *extra):
    return subprocess.run([TOOL, "--pub", pub.hex(), "--info", info.hex(), "--sig", sig.hex(),
                           *extra], capture_output=True, text=True)


def guest_text(s):
    return bytes(s.guest).decode("utf-8", "replace").replace("\r", "")


def test_utpm_scenarios_and_their_quotes_verify_on_the_host(boot):
    img = disk.build_guest_disk(scenarios="trustvisor_utpm,trustvisor_utpm_pal", poweroff=False)
    m = boot(modules=[Module("(hd0)+1", nounzip=True)], disks=[img], boot="cdrom")
    s = wait_session(m, lambda s: "GUEST DONE" in guest_text(s) or "GUEST FAULT" in guest_text(s),
                     "the guest's summary", timeout=500)
    out = guest_text(s)
    assert "GUEST FAULT" not in out, out
    checks = {(a, b): r for a, b, r in re.findall(r"^CHECK (\w+)\.(\w+): (PASS|FAIL.*)$", out, re.M)}
    failed = {k: r for k, r in checks.items() if r != "PASS"}
    assert not failed, failed
    want = {("trustvisor_utpm", c) for c in [
        "seal", "unseal_roundtrip", "seal_fresh_nonce", "unseal_tampered_ciphertext",
        "unseal_tampered_tag", "unseal_tampered_mask", "unseal_cut", "unseal_other_pcrs",
        "unseal_unbound_pcr_changed", "seal_out_too_small", "seal_too_big", "seal_unmapped_data",
        "getpub", "quote", "quote_pcr_out_of_range", "quote_unmapped_nonce"]}
    want |= {("trustvisor_utpm_pal", c) for c in [
        "reg", "pal_lifecycle_refused", "pal_pcr0_measured", "pal_pcr_extend_own", "guest_pcr_untouched",
        "pal_pointer_outside_refused", "pal_pointer_code_refused", "pal_seal", "pal_unseal",
        "guest_unseal_pal_blob_refused", "pal_unseal_guest_blob_refused", "pal_getpub",
        "pal_quote", "unreg", "reg_again_fresh_utpm"]}
    assert want <= set(checks), sorted(want - set(checks))
    q = {k: bytes.fromhex(v) for k, v in re.findall(r"^TVQUOTE (\w+ \w+) ([0-9a-f]+)$", out, re.M)}
    measured = pal_measurement()
    assert q["pal pcr0"] == measured, (q["pal pcr0"].hex(), measured.hex())
    # The guest's quote: its nonce as the scenario chose it.
    gnonce = bytes((0x4e + 3 * i) & 0xff for i in range(20))
    p = verify_tool(q["guest pub"], q["guest info"], q["guest sig"], "--nonce", gnonce.hex())
    assert p.returncode == 0, p.stderr
    # The PAL's: its PCR 0 is its measurement, its PCR 5 its own extend.
    pnonce = bytes(0xc0 ^ (7 * i) & 0xff for i in range(20))
    pcr5 = hashlib.sha1(bytes(20) + hashlib.sha1(b"abc").digest()).hexdigest()
    p = verify_tool(q["pal pub"], q["pal info"], q["pal sig"], "--nonce", pnonce.hex(),
                    "--pcr", "0=" + measured.hex(), "--pcr", "5=" + pcr5)
    assert p.returncode == 0, p.stderr
    assert q["pal pub"] == q["guest pub"]
    # Altered, the same quote fails.
    info = bytearray(q["pal info"])
    info[30] ^= 1
    p = verify_tool(q["pal pub"], bytes(info), q["pal sig"])
    assert p.returncode == 1, p.stdout
    # The hypervisor reported the refused UNSEALs, and traced the operations
    # of the PAL's micro-TPM under its entry (pal field nonzero).
    assert s.find(r"TrustVisor UNSEAL refused: not a blob of this boot's key, or altered"), s.text()
    assert s.find(r"TrustVisor UNSEAL refused: the PCRs it is bound to differ now"), s.text()
    for cmd in ("REG", "UNREG", "SHARE"):
        assert s.find(rf"TrustVisor {cmd} from inside a PAL: error 0x1c"), s.text()
    ops = s.events("TV_UTPM_OP")
    assert any(r.args[1] == 0 for r in ops) and any(r.args[1] for r in ops), ops[:5]


def test_genrand_refused_on_a_cpu_without_rdrand(boot):
    """Bochs' Sandy Bridge model has VMX with EPT but neither RDRAND nor
    RDSEED: GENRAND is refused (TV_ERR_INSUFFICIENT_ENTROPY), never answered
    from a DRBG with no entropy, and the rest of TrustVisor works on."""
    img = disk.build_guest_disk(scenarios="trustvisor", poweroff=False)
    m = boot(modules=[Module("(hd0)+1", nounzip=True)], disks=[img], boot="cdrom",
             model="corei7_sandy_bridge_2600k")
    s = wait_session(m, lambda s: "GUEST DONE" in guest_text(s) or "GUEST FAULT" in guest_text(s),
                     "the guest's summary", timeout=300)
    out = guest_text(s)
    assert re.search(r"^CHECK trustvisor\.genrand: PASS$", out, re.M), out
    checks = re.findall(r"^CHECK trustvisor\.(\w+): (PASS|FAIL.*)$", out, re.M)
    assert len(checks) > 10 and all(r == "PASS" for _, r in checks), checks
    # The CPU really has neither (else the scenario checks the other branch).
    assert re.search(r"rdrand=0 rdseed=0", out), out
