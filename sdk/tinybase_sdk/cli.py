"""``run()``: a script's entry point (``if __name__ == "__main__": run()``).

Under TinyBase the script runs in a worker (:mod:`tinybase_sdk.worker`) and ``run()`` does
nothing. Run by hand (``uv run my_function.py``) it calls the function once, for trying it
out: ``--data '{"value": "x"}'`` is the payload (default ``{}``), ``--url`` the TinyBase
server the client reaches (default ``http://127.0.0.1:8000``), ``--token`` an access token
to act with; the result is printed as JSON. ``--metadata`` prints the function's name,
auth, tags and JSON Schemas instead.
"""

from __future__ import annotations

import argparse
import json
import sys

from tinybase_sdk import worker
from tinybase_sdk.client import Client
from tinybase_sdk.registry import registered

__all__ = ["run"]


def run(argv: list[str] | None = None) -> None:
    """Serve or try out the function the script registered (see the module docstring).

    Raises:
        SystemExit: when run by hand, with status 0, or 1 if no function is registered or
            the function failed.
    """
    if worker.active:
        return
    parser = argparse.ArgumentParser(description="Call this TinyBase function once.")
    parser.add_argument("--metadata", action="store_true", help="print the metadata")
    parser.add_argument("--data", default="{}", help="the JSON payload")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the TinyBase server")
    parser.add_argument("--token", default=None, help="an access token to act with")
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    function = registered()
    if function is None:
        print("no function registered (@tinybase_sdk.register)", file=sys.stderr)
        raise SystemExit(1)
    if options.metadata:
        print(json.dumps(function.metadata()))
        raise SystemExit(0)
    with Client(base_url=options.url) as client:
        if options.token:
            client.headers["Authorization"] = f"Bearer {options.token}"
        value = function.input_adapter.validate_json(options.data)
        args = (client, value) if function.takes_payload else (client,)
        result = function.output_adapter.dump_python(function.handler(*args), mode="json")
    print(json.dumps(result))
    raise SystemExit(0)
