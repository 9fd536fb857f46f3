"""TinyBase functions as single-file scripts, run in a process of their own.

A script declares its dependencies in a PEP 723 ``# /// script`` block (naming
``tinybase-sdk``), registers one function with :func:`register` and ends with
``tinybase_sdk.cli.run()``; TinyBase prepares its environment with uv, keeps warm worker
processes of it and calls the function over a framed pipe. The function receives a
:class:`Client` that reaches the TinyBase API as the caller. See TinyBase's
docs/functions.md.
"""

from tinybase_sdk.client import CallContext, Client
from tinybase_sdk.registry import FunctionError, register

__version__ = "0.1.0"

__all__ = ["CallContext", "Client", "FunctionError", "__version__", "register"]
