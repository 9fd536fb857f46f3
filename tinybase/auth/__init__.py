"""Authentication: users, passwords, access tokens, refresh-token sessions, password resets.

Modules: ``principal`` (who is asking), ``passwords`` (argon2id), ``signing_key`` (the
Ed25519 key in ``_secret``), ``tokens`` (access JWTs), ``revocation`` (the per-process
version cache), ``sessions`` (refresh tokens), ``users``, ``resets``, ``setup`` (the first
admin), ``ratelimit``, ``mail``, ``service`` (the flows) and ``factory`` (wiring).
"""
