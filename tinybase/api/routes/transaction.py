"""Routes under /api/transaction/v1.

POST /api/transaction/v1/execute  {"operations": [...], "transaction": true}
                                  -> {"ids": [...], "results": [{"Id": ...}, ...]}
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from tinybase.api.deps import CurrentPrincipal, State
from tinybase.api.json_body import parse_json_body
from tinybase.records.transaction import execute_operations, response_body

router = APIRouter(prefix="/api/transaction/v1", tags=["records (TrailBase)"])


@router.post("/execute")
async def execute(request: Request, principal: CurrentPrincipal, state: State) -> dict[str, Any]:
    body = parse_json_body(await request.body())
    results = await run_in_threadpool(
        execute_operations, state.db, state.record_apis.get, principal, body
    )
    return response_body(results)
