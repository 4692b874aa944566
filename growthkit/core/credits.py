"""The credit ledger: earn, spend, adjust and complete actions, one lead at a time.

Each lead's ledger is a list of operations; every operation stores the balance after it, so
the balance is the last operation's `balance_after`. The first write to a lead's ledger
grants the app's `initialCredits` as an explicit `initial_credits` operation. Operations on
one lead are serialized (SQLite: the write transaction's BEGIN IMMEDIATE; PostgreSQL: a row
lock on the lead), so the balance check and the insert can never race into an overdraft.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from growthkit.core import cursors
from growthkit.core.apps import get_app
from growthkit.core.clock import now_ms, to_iso
from growthkit.core.leads import LeadError, check_limit, check_order, get_lead
from growthkit.core.schema import credit_operations, leads
from growthkit.core.store import insert

INITIAL_ACTION = "initial_credits"
MAX_AMOUNT = 10**9
MAX_BALANCE = 2**31 - 1  # the column is a 32-bit integer
MAX_REASON = 1000
ops = credit_operations.c


class CreditError(LeadError):
    """A credit operation that cannot be applied (422 bad input, 404 unknown action,
    409 not enough credits or an operation id reused for something else)."""


@dataclass
class Applied:
    balance: int
    operation: dict[str, Any]
    replayed: bool  # True: the id was seen before and this is the original answer


def operation_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "fingerprint": row.fingerprint_id, "action": row.action,
            "amount": row.amount, "balanceAfter": row.balance_after, "reason": row.reason,
            "timestamp": to_iso(row.timestamp)}


def _check_text(name: str, value: Any, low: int, high: int) -> str:
    if not isinstance(value, str) or not low <= len(value) <= high or not value.isprintable():
        raise CreditError(422, f"{name} must be {low}-{high} printable characters")
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
        raise CreditError(422, f"action {INITIAL_ACTION!r} is reserved for the starting grant")
    if cost_of is None:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0 \
                or abs(amount) > MAX_AMOUNT:
            raise CreditError(422, f"amount must be a whole number from -{MAX_AMOUNT} to "
                                   f"{MAX_AMOUNT} other than 0 (> 0 earns, < 0 spends)")
        if action == "adjust" and reason is None:
            raise CreditError(422, "reason is required for an adjust operation")

    _lock_lead(conn, app_id, fingerprint)
    if op_id is not None:
        seen = conn.execute(select(credit_operations)
                            .where(ops.app_id == app_id, ops.id == op_id)).first()
        if seen is not None:
            same = seen.fingerprint_id == fingerprint and seen.action == action and (
                cost_of is not None or seen.amount == amount)
            if not same:
                raise CreditError(409, f"operation id {op_id!r} was already used for a "
                                       "different operation; use a new id")
            return Applied(seen.balance_after, operation_json(seen), True)

    app = get_app(conn, app_id)
    if cost_of is not None:
        costs = app.setting("actionCosts") or {}
        if cost_of not in costs:
            raise CreditError(404, f"unknown action {cost_of!r}: it has no cost in the app's "
                                   "actionCosts setting")
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
        raise CreditError(409, f"not enough credits: the balance is {last.balance_after}, "
                               f"{action!r} needs {-amount}")
    if new_balance > MAX_BALANCE:
        raise CreditError(422, f"the balance would exceed {MAX_BALANCE}")
    row = _insert(conn, id=op_id or "op_" + uuid.uuid4().hex, app_id=app_id,
                  fingerprint_id=fingerprint, action=action, amount=amount,
                  balance_after=new_balance, reason=reason, timestamp=now)
    return Applied(new_balance, operation_json(row), False)


def complete_action(conn: Connection, app_id: str, fingerprint: str, action: str, *,
                    op_id: str | None = None) -> Applied:
    """GrowthKit's completeAction: spend the app's configured cost of `action`."""
    _check_text("action", action, 1, 200)
    return apply(conn, app_id, fingerprint, 0, action, op_id=op_id, cost_of=action)


def history(conn: Connection, app_id: str, fingerprint: str, *, order: str = "desc",
            limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
    """`{balance, data: [operation], nextCursor}`: the ledger, newest first unless asc."""
    get_lead(conn, app_id, fingerprint)
    check_order(order)
    check_limit(limit)
    after = cursors.decode(f"credits:{order}", cursor, 2)
    where = [ops.app_id == app_id, ops.fingerprint_id == fingerprint]
    if after is not None:
        where.append(cursors.keyset_after([ops.timestamp, ops.seq], after, order))
    rows = conn.execute(select(credit_operations).where(*where)
                        .order_by(*cursors.keyset_order([ops.timestamp, ops.seq], order))
                        .limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"balance": balance(conn, app_id, fingerprint),
            "data": [operation_json(r) for r in rows],
            "nextCursor": cursors.encode(f"credits:{order}", [rows[-1].timestamp, rows[-1].seq])
            if more else None}
