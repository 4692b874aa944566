"""Credits: the ledger (secret key), spends and completed actions (public key)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from growthkit.core import credits as core
from growthkit.core.apps import App
from growthkit.core.leads import MAX_LIMIT
from growthkit.server.auth import check_origin, public_app, secret_app, state_of
from growthkit.server.deps import (
    CURSOR,
    FINGERPRINT,
    NOT_FOUND,
    ErrorBody,
    answer,
    documented,
    limit_query,
    reject_unknown_parameters,
)
from growthkit.server.errors import json_response

router = APIRouter(prefix="/api/v1", tags=["credits"],
                   dependencies=[Depends(reject_unknown_parameters)])
CONFLICT = {"model": ErrorBody, "description": "Not enough credits, or an operation id "
                                               "reused for a different operation"}


class CreditIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    fingerprint: str = Field(description="the lead; created if new",
                             json_schema_extra={"minLength": 1, "maxLength": 128})
    amount: int = Field(description="> 0 earns, < 0 spends (409 if the balance is too low)",
                        json_schema_extra={"minimum": -10**9, "maximum": 10**9})
    action: str = Field(description="what the credits are for, e.g. purchase, export, adjust",
                        json_schema_extra={"minLength": 1, "maxLength": 200})
    id: str | None = Field(None, description="operation id: sending it again returns the "
                                             "original answer and never applies twice")
    reason: str | None = Field(None, description="free text; required for action adjust")


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    fingerprint: str = Field(json_schema_extra={"minLength": 1, "maxLength": 128})
    action: str = Field(description="an action with a cost in the app's actionCosts",
                        json_schema_extra={"minLength": 1, "maxLength": 200})
    id: str | None = Field(None, description="operation id for safe retries")
    key: str | None = Field(None, description="the public key, if not in the header or ?key=")


def _answer(result: core.Applied) -> Response:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return json_response(result.to_json(), headers=headers)


@router.post("/credits", summary="Earn, spend or adjust a lead's credits",
             responses=documented(core.Applied, {409: CONFLICT}))
async def post_credits(request: Request, body: CreditIn,
                       app: App = Depends(secret_app)) -> Response:
    op = core.CreditRequest(body.fingerprint, body.amount, body.action, id=body.id,
                            reason=body.reason)
    return _answer(await run_in_threadpool(core.record, state_of(request).engine, app, op))


@router.post("/actions/complete", summary="Complete an action: spend its configured cost",
             description="Public key (Authorization: Bearer pk_…, ?key= or body key), as "
                         "GrowthKit's completeAction. 404: the action has no cost in "
                         "actionCosts; 409: not enough credits.",
             responses=documented(core.Applied, {409: CONFLICT, 404: {
                 "model": ErrorBody, "description": "Unknown action"}}))
async def complete_action(request: Request, body: ActionIn,
                          key: str | None = Query(None, description="The public key, if not "
                                                  "in the Authorization header or the body",
                                                  max_length=200)) -> Response:
    app = await public_app(request, body.key)
    check_origin(request, app)
    op = core.ActionRequest(body.fingerprint, body.action, id=body.id)
    return _answer(await run_in_threadpool(core.complete, state_of(request).engine, app, op))


@router.get("/leads/{fingerprint:path}/credits", summary="A lead's balance and credit history",
            responses=documented(core.CreditHistory, {404: NOT_FOUND}))
async def lead_credits(request: Request, fingerprint: str = FINGERPRINT,
                       order: Literal["desc", "asc"] = Query(
                           "desc", description="desc (newest first) or asc"),
                       limit: int = limit_query(100, MAX_LIMIT),
                       cursor: str | None = CURSOR,
                       app: App = Depends(secret_app)) -> Response:
    query = core.CreditHistoryQuery(fingerprint, order=order, limit=limit, cursor=cursor)
    return await answer(request, core.history, app, query)
