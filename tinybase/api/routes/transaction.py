"""Routes under /api/transaction/v1.

POST /api/transaction/v1/execute  {"operations": [...], "transaction": true}
                                  -> {"ids": [...], "results": [{"Id": ...}, ...]}
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from tinybase.api.deps import BEARER_DOCS, CurrentPrincipal, State, client_ip
from tinybase.api.json_body import parse_json_body
from tinybase.api.record_docs import TRANSACTION_BODY, TransactionResult
from tinybase.api.responses import JSONResponse
from tinybase.records.conflicts import caller_key
from tinybase.records.transaction import (
    OperationResult,
    execute_operations,
    operation_count,
    response_body,
)

router = APIRouter(prefix="/api/transaction/v1", tags=["records (TrailBase)"])


@router.post(
    "/execute",
    openapi_extra={**BEARER_DOCS, "requestBody": TRANSACTION_BODY},
    responses={200: {"model": TransactionResult}},
)
async def execute(request: Request, principal: CurrentPrincipal, state: State) -> JSONResponse:
    body = parse_json_body(await request.body())
    caller = caller_key(principal, client_ip(request))

    def run() -> list[OperationResult]:
        return execute_operations(state.db, state.record_apis.get, principal, body)

    # Any operation may conflict on a hidden value: every transaction of a caller but an
    # admin draws on the conflict budget (see tinybase.records.conflicts).
    guarded = not principal.is_admin
    # Through the one writer, like every record write: on SQLite the operations join a
    # group commit in a SAVEPOINT of their own (all or nothing, as before).
    results = await state.executor.write(
        lambda: state.conflicts.run(caller, run, guarded=guarded), rows=operation_count(body)
    )
    return JSONResponse(response_body(results))
