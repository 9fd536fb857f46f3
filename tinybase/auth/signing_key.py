"""The instance's Ed25519 token signing key: created once, stored in ``_secret``."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tinybase.auth.instance_secrets import insert_secret_if_absent
from tinybase.data import Database

__all__ = ["SIGNING_KEY_SECRET", "load_signing_key"]

SIGNING_KEY_SECRET = "auth.signing_key"


def load_signing_key(db: Database) -> Ed25519PrivateKey:
    """The instance's signing key, created on first use.

    Every process calls this at start-up. A fresh key is offered on each call, but only the
    first one ever stored is kept (insert-if-absent), so concurrent first starts of several
    workers end with one shared key and tokens signed by any process verify in all of them.
    """
    candidate = Ed25519PrivateKey.generate().private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    with db.write() as conn:
        stored = insert_secret_if_absent(conn, SIGNING_KEY_SECRET, candidate.decode("ascii"))
    key = serialization.load_pem_private_key(stored.encode("ascii"), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"secret {SIGNING_KEY_SECRET!r} does not hold an Ed25519 key")
    return key
