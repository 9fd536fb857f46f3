"""``POST /api/transaction/v1/execute``: several record operations, all or nothing.

The body is TrailBase's: ``{"operations": [{"Create": {"api_name", "value"}} |
{"Update": {"api_name", "record_id", "value"}} | {"Delete": {"api_name", "record_id"}}],
"transaction": true}``. Every operation goes through its API's engine (ACLs and rules as for
a single request) inside one write transaction; the first failure rolls everything back and
is the answer. TinyBase always runs the operations in one transaction, even when the client
sends ``"transaction": false``.

The answer carries both of TrailBase's shapes: ``{"ids": [...]}``, the created records
(TrailBase before v0.31, read by the npm client 0.12), and ``{"results": [{"Id": "..."}]}``,
one per operation (since v0.31, read by the npm client 0.14 and the Python client 0.7).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tinybase.auth.principal import Principal
from tinybase.errors import BadRequestError, PayloadTooLargeError
from tinybase.records.engine import RecordEngine

if TYPE_CHECKING:
    from tinybase.data import Database

__all__ = [
    "MAX_OPERATIONS",
    "OperationResult",
    "execute_operations",
    "operation_count",
    "response_body",
]

MAX_OPERATIONS = 128


@dataclass(frozen=True, slots=True)
class OperationResult:
    """What one operation did: its kind (``Create``, ``Update``, ``Delete``) and record id."""

    kind: str
    record_id: Any


def response_body(results: Sequence[OperationResult]) -> dict[str, list[Any]]:
    """TrailBase's answer in both shapes: ``ids`` of created records, ``results`` per operation.

    TrailBase's ``results`` ids are text whatever the key's type (its clients assert a string).
    """
    return {
        "ids": [result.record_id for result in results if result.kind == "Create"],
        "results": [{"Id": str(result.record_id)} for result in results],
    }


def operation_count(body: Any) -> int:
    """How many operations ``body`` holds (at least 1): the rows hint of a group commit."""
    operations = body.get("operations") if isinstance(body, Mapping) else None
    return max(1, len(operations)) if isinstance(operations, list) else 1


def execute_operations(
    db: Database,
    engines: Callable[[str], RecordEngine],
    principal: Principal,
    body: Any,
) -> list[OperationResult]:
    """Run the operations of ``body`` in one transaction; return what each one did.

    Args:
        db: the database (its ``write()`` joins nested calls into the outer transaction).
        engines: the engine of an API by name (raises NotFoundError for an unknown one).
        principal: the caller; every operation is checked against its API's ACLs and rules.
        body: the decoded JSON body.

    Raises:
        BadRequestError: a malformed body or operation (its index named).
        PayloadTooLargeError: more than ``MAX_OPERATIONS`` operations.
        TinyBaseError: the first operation's failure (nothing is written).
    """
    operations = _operations(body)
    results: list[OperationResult] = []
    with db.write():
        for index, operation in enumerate(operations):
            kind, spec = _operation(index, operation)
            engine = engines(_text(index, spec, "api_name"))
            if kind == "Create":
                (record_id,) = engine.create(principal, _value(index, spec))
            elif kind == "Update":
                record_id = _record_id(index, spec)
                engine.update(principal, record_id, _value(index, spec), answer=False)
            else:
                record_id = _record_id(index, spec)
                engine.delete(principal, record_id)
            results.append(OperationResult(kind, record_id))
    return results


def _operations(body: Any) -> list[Any]:
    if not isinstance(body, Mapping) or not isinstance(body.get("operations"), list):
        raise BadRequestError('expected {"operations": [...]}')
    operations = body["operations"]
    if len(operations) > MAX_OPERATIONS:
        raise PayloadTooLargeError(f"at most {MAX_OPERATIONS} operations per transaction")
    return operations


def _operation(index: int, operation: Any) -> tuple[str, Mapping[str, Any]]:
    if isinstance(operation, Mapping) and len(operation) == 1:
        ((kind, spec),) = operation.items()
        if kind in ("Create", "Update", "Delete") and isinstance(spec, Mapping):
            return kind, spec
    raise BadRequestError(f"operations[{index}]: expected one of Create, Update, Delete")


def _text(index: int, spec: Mapping[str, Any], key: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str):
        raise BadRequestError(f"operations[{index}]: {key} is required")
    return value


def _record_id(index: int, spec: Mapping[str, Any]) -> Any:
    value = spec.get("record_id")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadRequestError(f"operations[{index}]: record_id is required")
    return value


def _value(index: int, spec: Mapping[str, Any]) -> Mapping[str, Any]:
    value = spec.get("value")
    if not isinstance(value, Mapping):
        raise BadRequestError(f"operations[{index}]: value must be an object")
    return value
