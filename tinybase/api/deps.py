"""Shared request dependencies, as ``Annotated`` aliases for handlers' signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tinybase.api.state import AppState

__all__ = ["State"]


def get_state(request: Request) -> AppState:
    return request.app.state.tinybase


State = Annotated[AppState, Depends(get_state)]
