"""Server-side Python functions (``seeds/tinybase-python-api.md``, "Internal Functions
Module"): ``@register`` a typed callable, and clients call it over HTTP at
``/api/functions/{name}``; see docs/functions.md."""

from tinybase.functions.context import Context
from tinybase.functions.errors import FunctionError
from tinybase.functions.registry import register

__all__ = ["Context", "FunctionError", "register"]
