"""An instance's functions: what was loaded, the registry, the runner and the call records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from tinybase.data import Database
from tinybase.functions.calls import CallRecords
from tinybase.functions.isolated import IsolatedFunctions
from tinybase.functions.loader import FunctionLoad, instance_functions
from tinybase.functions.registry import FunctionRegistry
from tinybase.functions.runner import FunctionHooks, FunctionRunner
from tinybase.functions.transaction import FunctionTransaction

__all__ = ["Functions", "build_functions"]


@dataclass
class Functions:
    """One instance's functions (``AppState.functions``).

    Attributes:
        registry: the functions by name.
        runner: calls them.
        calls: their call records.
        load: what start-up imported from ``functions_path`` and what failed.
        isolated: the ``tinybase_sdk`` scripts, their environments and workers.
    """

    registry: FunctionRegistry
    runner: FunctionRunner
    calls: CallRecords
    load: FunctionLoad
    isolated: IsolatedFunctions

    def close(self) -> None:
        """Stop the runner's worker threads (the instance is shutting down)."""
        self.runner.close()


def build_functions(
    load: FunctionLoad,
    *,
    db: Database,
    write: Callable[[Callable[[], Any]], Any],
    bind_session: Callable[[Session, FunctionTransaction], Session],
    timeout_seconds: float,
    threads: int,
    isolated: Callable[[FunctionRegistry], IsolatedFunctions],
    hooks: FunctionHooks | None = None,
) -> Functions:
    """The instance's functions, from what :func:`load_functions` imported.

    Raises:
        DuplicateFunctionError: two functions share a name.
    """
    registry = FunctionRegistry(instance_functions(load))
    calls = CallRecords(db, write)
    runner = FunctionRunner(
        db=db,
        calls=calls,
        bind_session=bind_session,
        timeout_seconds=timeout_seconds,
        threads=threads,
        hooks=hooks,
    )
    return Functions(
        registry=registry, runner=runner, calls=calls, load=load, isolated=isolated(registry)
    )
