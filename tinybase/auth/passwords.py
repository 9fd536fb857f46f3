"""Password hashing with argon2id, and the dummy check that keeps login timing flat."""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "PasswordHasher"]

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


class PasswordHasher:
    """Hashes and verifies passwords with argon2id.

    Args:
        time_cost, memory_cost, parallelism: argon2 parameters; ``None`` keeps argon2-cffi's
            defaults (RFC 9106's low-memory profile), which is what production uses. Tests
            pass cheaper values through the same constructor.
    """

    def __init__(
        self,
        *,
        time_cost: int | None = None,
        memory_cost: int | None = None,
        parallelism: int | None = None,
    ) -> None:
        options = {
            "time_cost": time_cost,
            "memory_cost": memory_cost,
            "parallelism": parallelism,
        }
        self._hasher = argon2.PasswordHasher(
            **{name: value for name, value in options.items() if value is not None},
            type=argon2.Type.ID,
        )
        # Verifying against this hash when the account does not exist makes a failed login
        # cost the same time whether or not the email is registered (no user enumeration).
        self._dummy_hash = self._hasher.hash("tinybase-dummy-password")

    def hash(self, password: str) -> str:
        """The argon2id hash (PHC string, salt included) of ``password``."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True if ``password`` matches ``password_hash``.

        With ``password_hash=None`` (unknown account) the same work is done against a dummy
        hash and the answer is always False.
        """
        try:
            matches = self._hasher.verify(password_hash or self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return matches and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        """True if ``password_hash`` was made with other parameters than the current ones."""
        return self._hasher.check_needs_rehash(password_hash)
