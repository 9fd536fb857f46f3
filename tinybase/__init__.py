"""TinyBase: a self-hosted Backend-as-a-Service for Python developers."""

__version__ = "0.1.0"
