"""The credit ledger: earn, spend, adjust and complete actions, one lead at a time.

Each lead's ledger is a list of operations; every operation stores the balance after it, so
the balance is the last operation's `balance_after`. The first write to a lead's ledger
grants the app's `initialCredits` as an explicit `initial_credits` operation. Operations on
one lead are serialized (SQLite: the write transaction's BEGIN IMMEDIATE; PostgreSQL: a row
lock on the lead), so the balance check and the insert can never race into an overdraft.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from growthkit.core import cursors
from growthkit.core.apps import App, get_app
from growthkit.core.clock import now_ms, to_iso
from growthkit.core.errors import Conflict, NotFound, QueryError
from growthkit.core.leads import MAX_LIMIT, ORDERS, get_lead
from growthkit.core.params import check_choice, check_limit
from growthkit.core.results import Result, result
from growthkit.core.schema import credit_operations, leads
from growthkit.core.store import insert, write_connection

INITIAL_ACTION = "initial_credits"
MAX_AMOUNT = 10**9
MAX_BALANCE = 2**31 - 1  # the column is a 32-bit integer
MAX_REASON = 1000
ops = credit_operations.c


@result
class Operation(Result):
    """One ledger entry."""

    id: str
    fingerprint: str
    action: str
    amount: int
    balance_after: int
    reason: str | None
    timestamp: str

    @classmethod
    def from_row(cls, row: Any) -> Operation:
        return cls(row.id, row.fingerprint_id, row.action, row.amount, row.balance_after,
                   row.reason, to_iso(row.timestamp))


@result
class Applied(Result):
    """The answer to a credit write: the balance after it and the operation. `replayed`
    (not in the JSON, which repeats the original answer exactly; the server sends it as the
    Idempotent-Replayed header): the operation id was seen before."""

    balance: int
    operation: Operation
    replayed: Annotated[bool, Field(exclude=True)] = False


@result
class CreditHistory(Result):
    """GET /leads/{fingerprint}/credits: the balance and a page of the ledger."""

    balance: int
    data: list[Operation]
    next_cursor: str | None


@dataclass
class CreditRequest:
    """POST /credits: `amount` > 0 earns, < 0 spends; `id` makes a retry safe."""

    fingerprint: str
    amount: int
    action: str
    id: str | None = None
    reason: str | None = None


@dataclass
class ActionRequest:
    """POST /actions/complete: spend the app's configured cost of `action`."""

    fingerprint: str
    action: str
    id: str | None = None


@dataclass
class CreditHistoryQuery:
    fingerprint: str
    order: str = "desc"
    limit: int = 100
    cursor: str | None = None


def _check_text(name: str, value: Any, low: int, high: int) -> str:
    if not isinstance(value, str) or not low <= len(value) <= high or not value.isprintable():
        raise QueryError(name, f"{name} must be {low}-{high} printable characters")
    return value


def _last_operation(conn: Connection, app_id: str, fingerprint: str) -> Any:
    return conn.execute(select(credit_operations)
                        .where(ops.app_id == app_id, ops.fingerprint_id == fingerprint)
                        .order_by(ops.timestamp.desc(), ops.seq.desc()).limit(1)).first()


def balance(conn: Connection, app_id: str, fingerprint: str) -> int:
    """The lead's balance; before its first operation, what it will start with."""
    last = _last_operation(conn, app_id, fingerprint)
    if last is not None:
        return last.balance_after
    return get_app(conn, app_id).setting("initialCredits") or 0


def _lock_lead(conn: Connection, app_id: str, fingerprint: str) -> None:
    """Create the lead if it is new, then hold its row until the transaction ends."""
    now = now_ms()
    conn.execute(insert(conn, leads).values(app_id=app_id, fingerprint=fingerprint,
                                            first_seen=now, last_seen=now)
                 .on_conflict_do_nothing(index_elements=[leads.c.app_id, leads.c.fingerprint]))
    # FOR UPDATE on PostgreSQL; SQLite renders nothing (its write transaction is exclusive).
    conn.execute(select(leads.c.id).where(leads.c.app_id == app_id,
                                          leads.c.fingerprint == fingerprint).with_for_update())


def _insert(conn: Connection, **values: Any) -> Any:
    return conn.execute(credit_operations.insert().values(**values)
                        .returning(*credit_operations.c)).one()


def apply(conn: Connection, app_id: str, fingerprint: str, amount: int, action: str, *,
          op_id: str | None = None, reason: str | None = None,
          cost_of: str | None = None) -> Applied:
    """Apply one operation in the caller's write transaction (see store.write_connection).

    `amount` > 0 earns, < 0 spends (409 if the balance is too low). With `cost_of`, the
    amount is minus the app's configured cost of that action (404 if it has none). An
    `op_id` seen before returns the original operation and balance, never applying twice.
    """
    _check_text("fingerprint", fingerprint, 1, 128)
    _check_text("action", action, 1, 200)
    if op_id is not None:
        _check_text("id", op_id, 1, 64)
    if reason is not None:
        _check_text("reason", reason, 1, MAX_REASON)
    if action == INITIAL_ACTION:
        raise QueryError("action", f"action {INITIAL_ACTION!r} is reserved for the starting grant")
    if cost_of is None:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0 \
                or abs(amount) > MAX_AMOUNT:
            raise QueryError("amount", f"amount must be a whole number from -{MAX_AMOUNT} to "
                                       f"{MAX_AMOUNT} other than 0 (> 0 earns, < 0 spends)")
        if action == "adjust" and reason is None:
            raise QueryError("reason", "reason is required for an adjust operation")

    _lock_lead(conn, app_id, fingerprint)
    if op_id is not None:
        seen = conn.execute(select(credit_operations)
                            .where(ops.app_id == app_id, ops.id == op_id)).first()
        if seen is not None:
            same = seen.fingerprint_id == fingerprint and seen.action == action and (
                cost_of is not None or seen.amount == amount)
            if not same:
                raise Conflict(f"operation id {op_id!r} was already used for a different "
                               "operation; use a new id", "id")
            return Applied(seen.balance_after, Operation.from_row(seen), True)

    app = get_app(conn, app_id)
    if cost_of is not None:
        costs = app.setting("actionCosts") or {}
        if cost_of not in costs:
            raise NotFound(f"unknown action {cost_of!r}: it has no cost in the app's "
                           "actionCosts setting", "action")
        amount = -costs[cost_of]

    last = _last_operation(conn, app_id, fingerprint)
    now = now_ms()
    if last is None:
        initial = app.setting("initialCredits") or 0
        last = _insert(conn, id="init_" + uuid.uuid4().hex, app_id=app_id,
                       fingerprint_id=fingerprint, action=INITIAL_ACTION, amount=initial,
                       balance_after=initial, reason="the app's initialCredits",
                       timestamp=now)
    # Ledger time never runs backwards for a lead, so (timestamp, seq) is the ledger order.
    now = max(now, last.timestamp)
    new_balance = last.balance_after + amount
    if new_balance < 0:
        raise Conflict(f"not enough credits: the balance is {last.balance_after}, "
                       f"{action!r} needs {-amount}", "amount")
    if new_balance > MAX_BALANCE:
        raise QueryError("amount", f"the balance would exceed {MAX_BALANCE}")
    row = _insert(conn, id=op_id or "op_" + uuid.uuid4().hex, app_id=app_id,
                  fingerprint_id=fingerprint, action=action, amount=amount,
                  balance_after=new_balance, reason=reason, timestamp=now)
    return Applied(new_balance, Operation.from_row(row), False)


def complete_action(conn: Connection, app_id: str, fingerprint: str, action: str, *,
                    op_id: str | None = None) -> Applied:
    """GrowthKit's completeAction: spend the app's configured cost of `action`."""
    _check_text("action", action, 1, 200)
    return apply(conn, app_id, fingerprint, 0, action, op_id=op_id, cost_of=action)


def history(conn: Connection, app: App, query: CreditHistoryQuery) -> CreditHistory:
    """The lead's balance and a page of its ledger, newest first unless order is asc."""
    order = check_choice(query.order, ORDERS, "order")
    limit = check_limit(query.limit, MAX_LIMIT)
    get_lead(conn, app.id, query.fingerprint)
    kind = f"credits:{order}"
    after = cursors.decode(kind, query.cursor, 2)
    where = [ops.app_id == app.id, ops.fingerprint_id == query.fingerprint]
    if after is not None:
        where.append(cursors.keyset_after([ops.timestamp, ops.seq], after, order))
    rows = conn.execute(select(credit_operations).where(*where)
                        .order_by(*cursors.keyset_order([ops.timestamp, ops.seq], order))
                        .limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return CreditHistory(
        balance(conn, app.id, query.fingerprint), [Operation.from_row(r) for r in rows],
        cursors.encode(kind, [rows[-1].timestamp, rows[-1].seq]) if more else None)


def _in_write_transaction(engine: Engine, fn: Callable[[Connection], Applied]) -> Applied:
    """Run one ledger write in its own write transaction; a lost race on an operation id
    (unique violation) is retried once, and then finds the winner's operation. A store that
    cannot be reached raises the driver's error (nothing was applied: retry with the same
    id); the server answers it 503."""
    try:
        with write_connection(engine) as conn, conn.begin():
            return fn(conn)
    except IntegrityError:
        pass
    with write_connection(engine) as conn, conn.begin():
        return fn(conn)


def record(engine: Engine, app: App, request: CreditRequest) -> Applied:
    """Earn, spend or adjust one lead's credits, in a write transaction of its own."""
    return _in_write_transaction(engine, lambda conn: apply(
        conn, app.id, request.fingerprint, request.amount, request.action, op_id=request.id,
        reason=request.reason))


def complete(engine: Engine, app: App, request: ActionRequest) -> Applied:
    """Complete an action (spend its configured cost), in a write transaction of its own."""
    return _in_write_transaction(engine, lambda conn: complete_action(
        conn, app.id, request.fingerprint, request.action, op_id=request.id))
