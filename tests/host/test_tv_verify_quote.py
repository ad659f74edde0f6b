"""host-tools/tv-verify-quote against quotes made here with python3-cryptography
in the format of trustvisor/README.md: a good one passes and prints its PCRs;
an altered info, signature, nonce or PCR expectation, or another key, fails."""
import os
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from testpaths import ROOT

TOOL = os.path.join(ROOT, "host-tools", "tv-verify-quote")


def make_quote(key, nonce, pcrs):
    mask = sum(1 << i for i in pcrs)
    info = b"TVQ1" + nonce + mask.to_bytes(4, "little") + b"".join(v for _, v in sorted(pcrs.items()))
    r, s = decode_dss_signature(key.sign(info, ec.ECDSA(hashes.SHA256())))
    pub = key.public_key().public_bytes(serialization.Encoding.X962,
                                        serialization.PublicFormat.UncompressedPoint)
    return pub, info, r.to_bytes(32, "big") + s.to_bytes(32, "big")


def run(pub, info, sig, *extra):
    return subprocess.run([TOOL, "--pub", pub.hex(), "--info", info.hex(), "--sig", sig.hex(),
                           *extra], capture_output=True, text=True)


@pytest.fixture(scope="module")
def quote():
    key = ec.generate_private_key(ec.SECP256R1())
    nonce = bytes(range(20))
    pcrs = {0: b"\x11" * 20, 5: b"\x55" * 20}
    return key, nonce, pcrs, make_quote(key, nonce, pcrs)


def test_good_quote_is_valid_and_its_pcrs_printed(quote):
    _, nonce, pcrs, (pub, info, sig) = quote
    p = run(pub, info, sig, "--nonce", nonce.hex(), "--pcr", "5=" + "55" * 20)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[:2] == ["pcr 0 " + "11" * 20, "pcr 5 " + "55" * 20]


@pytest.mark.parametrize("what", ["info", "sig", "nonce", "pcr", "key"])
def test_altered_quote_is_invalid(quote, what):
    _, nonce, pcrs, (pub, info, sig) = quote
    extra = ["--nonce", nonce.hex()]
    if what == "info":
        info = info[:30] + bytes([info[30] ^ 1]) + info[31:]
    elif what == "sig":
        sig = sig[:40] + bytes([sig[40] ^ 1]) + sig[41:]
    elif what == "nonce":
        extra = ["--nonce", bytes(20).hex()]
    elif what == "pcr":
        extra += ["--pcr", "0=" + "12" * 20]
    else:
        pub = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    p = run(pub, info, sig, *extra)
    assert p.returncode == 1 and "INVALID" in p.stderr, (p.returncode, p.stdout, p.stderr)
