"""argon2id hashing and the dummy verification for unknown accounts."""

from __future__ import annotations

import argon2

from tinybase.auth.passwords import PasswordHasher

CHEAP = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


def test_hash_is_argon2id_and_verifies() -> None:
    hasher = PasswordHasher(**CHEAP)
    password_hash = hasher.hash("correct horse battery")
    assert password_hash.startswith("$argon2id$")
    assert hasher.verify(password_hash, "correct horse battery") is True
    assert hasher.verify(password_hash, "wrong horse battery") is False


def test_unknown_account_is_never_verified() -> None:
    hasher = PasswordHasher(**CHEAP)
    assert hasher.verify(None, "tinybase-dummy-password") is False
    assert hasher.verify(None, "anything") is False


def test_corrupt_hash_is_a_mismatch_not_an_error() -> None:
    assert PasswordHasher(**CHEAP).verify("not a hash", "password") is False


def test_defaults_are_argon2_cffis_defaults() -> None:
    hasher = PasswordHasher()
    default = argon2.PasswordHasher()
    parameters = argon2.extract_parameters(hasher.hash("x" * 8))
    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (
        default.time_cost,
        default.memory_cost,
        default.parallelism,
    )


def test_needs_rehash_when_parameters_change() -> None:
    cheap_hash = PasswordHasher(**CHEAP).hash("password1")
    assert PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1).needs_rehash(cheap_hash)
    assert not PasswordHasher(**CHEAP).needs_rehash(cheap_hash)
