"""Our plain-Python Ed25519 against RFC 8032's test vectors and the `cryptography` package."""
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from agentdb.rvf import ed25519

# RFC 8032 section 7.1, tests 1 and 2
VECTORS = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
]


@pytest.mark.parametrize("secret, public, message, signature", VECTORS)
def test_rfc8032_vectors(secret, public, message, signature):
    secret, message = bytes.fromhex(secret), bytes.fromhex(message)
    assert ed25519.public_key(secret).hex() == public
    assert ed25519.sign(secret, message).hex() == signature
    assert ed25519.verify(bytes.fromhex(public), message, bytes.fromhex(signature))


def test_interoperates_with_cryptography(rng):
    for n in (0, 1, 33, 1000):
        theirs = Ed25519PrivateKey.generate()
        seed = theirs.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        message = rng.bytes(n)
        ours = ed25519.sign(seed, message)
        assert ours == theirs.sign(message)                          # deterministic: the same bytes
        public = ed25519.public_key(seed)
        assert public == theirs.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        Ed25519PublicKey.from_public_bytes(public).verify(ours, message)   # raises if invalid
        assert ed25519.verify(public, message, theirs.sign(message))


def test_tampering_is_caught(rng):
    seed = rng.bytes(32)
    sig = ed25519.sign(seed, b"commit 7")
    public = ed25519.public_key(seed)
    assert not ed25519.verify(public, b"commit 8", sig)
    assert not ed25519.verify(public, b"commit 7", sig[:5] + bytes([sig[5] ^ 1]) + sig[6:])
    assert not ed25519.verify(ed25519.public_key(rng.bytes(32)), b"commit 7", sig)
    assert not ed25519.verify(public, b"commit 7", sig[:32] + (2 ** 253 + 2 ** 252).to_bytes(32, "little"))
    with pytest.raises(ValueError, match="32 bytes"):
        ed25519.sign(b"short", b"x")
