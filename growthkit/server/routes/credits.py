"""Credits: the ledger (secret key), spends and completed actions (public key)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from growthkit.core import credits as core_credits
from growthkit.core.apps import App
from growthkit.core.store import write_connection
from growthkit.server.auth import check_origin, public_app, secret_app, state_of
from growthkit.server.errors import is_store_outage, json_response, store_unavailable
from growthkit.server.params import ERROR_RESPONSES, ErrorBody
from growthkit.server.routes.leads import CURSOR, FINGERPRINT, NOT_FOUND, lead_errors

router = APIRouter(prefix="/api/v1", tags=["credits"])
CONFLICT = {"model": ErrorBody, "description": "Not enough credits, or an operation id "
                                               "reused for a different operation"}


class CreditIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    fingerprint: str = Field(description="the lead; created if new")
    amount: int = Field(description="> 0 earns, < 0 spends (409 if the balance is too low)")
    action: str = Field(description="what the credits are for, e.g. purchase, export, adjust")
    id: str | None = Field(None, description="operation id: sending it again returns the "
                                             "original answer and never applies twice")
    reason: str | None = Field(None, description="free text; required for action adjust")


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    fingerprint: str
    action: str = Field(description="an action with a cost in the app's actionCosts")
    id: str | None = Field(None, description="operation id for safe retries")
    key: str | None = Field(None, description="the public key, if not in the header or ?key=")


class Operation(BaseModel):
    id: str
    fingerprint: str
    action: str
    amount: int
    balanceAfter: int
    reason: str | None
    timestamp: str


class CreditResult(BaseModel):
    balance: int
    operation: Operation


class CreditHistory(BaseModel):
    balance: int
    data: list[Operation]
    nextCursor: str | None


def _apply(engine: Engine, fn: Callable) -> core_credits.Applied:
    """Run one ledger write in its own write transaction; a lost race on an operation id
    (unique violation) is retried once, and then finds the winner's operation."""
    for attempt in (1, 2):
        try:
            with lead_errors(), write_connection(engine) as conn, conn.begin():
                return fn(conn)
        except IntegrityError:
            if attempt == 2:
                raise
        except OperationalError as exc:
            if not is_store_outage(exc):
                raise
            raise store_unavailable("the store is unreachable, nothing was applied; retry "
                                    "with the same id after the Retry-After delay") from None
    raise AssertionError("unreachable")


def _answer(result: core_credits.Applied) -> Response:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return json_response({"balance": result.balance, "operation": result.operation},
                         headers=headers)


@router.post("/credits", summary="Earn, spend or adjust a lead's credits",
             responses={200: {"model": CreditResult}, 409: CONFLICT, **ERROR_RESPONSES})
def post_credits(request: Request, body: CreditIn, app: App = Depends(secret_app)) -> Response:
    result = _apply(state_of(request).engine, lambda conn: core_credits.apply(
        conn, app.id, body.fingerprint, body.amount, body.action, op_id=body.id,
        reason=body.reason))
    return _answer(result)


@router.post("/actions/complete", summary="Complete an action: spend its configured cost",
             description="Public key (Authorization: Bearer pk_…, ?key= or body key), as "
                         "GrowthKit's completeAction. 404: the action has no cost in "
                         "actionCosts; 409: not enough credits.",
             responses={200: {"model": CreditResult}, 409: CONFLICT, **ERROR_RESPONSES,
                        404: {"model": ErrorBody, "description": "Unknown action"}})
async def complete_action(request: Request, body: ActionIn) -> Response:
    app = await public_app(request, body.key)
    check_origin(request, app)
    engine = state_of(request).engine
    result = await run_in_threadpool(_apply, engine, lambda conn: core_credits.complete_action(
        conn, app.id, body.fingerprint, body.action, op_id=body.id))
    return _answer(result)


@router.get("/leads/{fingerprint:path}/credits", summary="A lead's balance and credit history",
            responses={200: {"model": CreditHistory}, 404: NOT_FOUND, **ERROR_RESPONSES})
def lead_credits(request: Request, fingerprint: str = FINGERPRINT,
                 order: str = Query("desc", description="desc (newest first) or asc"),
                 limit: int = Query(100, description="1-1000"),
                 cursor: str | None = CURSOR,
                 app: App = Depends(secret_app)) -> Response:
    with lead_errors(), state_of(request).engine.connect() as conn:
        page = core_credits.history(conn, app.id, fingerprint, order=order, limit=limit,
                                    cursor=cursor)
    return json_response(page)
