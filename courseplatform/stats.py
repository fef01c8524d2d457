"""Running totals kept with the facts they count: learners per offering and creator, sales per offering,
the platform's accounts.

Every flush that inserts, changes or deletes an account, an enrollment, an order or a refund adds the
difference it makes to the totals (models/stats.py) in the same transaction, whatever code
made the change: the access transitions, the order state machine, checkout's fee and refund
bookkeeping, imports and test factories alike. Each total moves by `n = n + delta` in an
upsert, so two requests counting at once never lose one another's change.

An object's contribution is worked out from its values before and after the flush (the
columns followed keep their old value: `active_history`). Offering, learner, currency and
order of a row are set when it is made and never change. A refund counts while it has
succeeded; refunds exist only on settled orders, and a settled order stays settled.

Bulk statements that bypass the ORM (a COPY, an UPDATE … WHERE) must be followed by
`rebuild()` (`flask rebuild-stats`), which recounts everything from the rows themselves.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .extensions import db
from .models import (
    CreatorLearner,
    CreatorStats,
    Enrollment,
    EnrollmentStatus,
    Offering,
    OfferingSales,
    OfferingStats,
    Order,
    PlatformStats,
    Refund,
    RefundStatus,
    User,
)
from .models.base import whole_sum
from .models.commerce import SETTLED_STATUSES, order_net_cents, order_refunds

OFFERING_COUNTS = ("active", "suspended", "revoked", "completed")
PLATFORM_COUNTS = ("accounts", "suspended_accounts")
PLATFORM_ROW = 1
SALES_SUMS = (
    "orders",
    "gross_cents",
    "refunded_cents",
    "net_cents",
    "platform_fee_cents",
    "platform_fee_returned_cents",
)


# ---------------------------------------------------------------------------
# What one row contributes
# ---------------------------------------------------------------------------


def _account_share(values: dict) -> dict[tuple, Counter]:
    """An account counts once on the platform, and once more among the suspended while it is suspended."""
    return {("platform",): Counter(accounts=1, suspended_accounts=int(values["suspended_at"] is not None))}


def _enrollment_share(values: dict) -> dict[tuple, Counter]:
    """An enrollment counts once in its offering's state, as completed while active, and for its creator's learner."""
    status, offering_id = values["status"], values["offering_id"]
    shares: dict[tuple, Counter] = {("offering", offering_id): Counter({status.value: 1})}
    if status is EnrollmentStatus.ACTIVE:
        if values["completed_at"] is not None:
            shares["offering", offering_id]["completed"] = 1
        shares["learner", offering_id, values["user_id"]] = Counter(offerings=1)
    return shares


def _order_share(values: dict) -> dict[tuple, Counter]:
    """A settled order counts its sale without its tax, and net of the processor's and the platform's fees."""
    if values["status"] not in SETTLED_STATUSES:
        return {}
    amount, platform_fee = values["amount_cents"] - values["tax_cents"], values["platform_fee_cents"]
    share = Counter(
        orders=1,
        gross_cents=amount,
        net_cents=amount - values["processor_fee_cents"] - platform_fee,
        platform_fee_cents=platform_fee,
    )
    return {("sales", values["offering_id"], values["currency"]): share}


def _refund_share(values: dict) -> dict[tuple, Counter]:
    """A succeeded refund takes its amount back from the net, less its tax and the platform fee returned with it."""
    if values["status"] is not RefundStatus.SUCCEEDED:
        return {}
    amount, fee_returned = values["amount_cents"] - values["tax_cents"], values["platform_fee_refunded_cents"]
    share = Counter(
        refunded_cents=amount,
        net_cents=-(amount - fee_returned),
        platform_fee_returned_cents=fee_returned,
    )
    return {("refund", values["order_id"]): share}


FOLLOWED = {
    User: (("suspended_at",), _account_share),
    Enrollment: (("offering_id", "user_id", "status", "completed_at"), _enrollment_share),
    Order: (
        (
            "offering_id",
            "currency",
            "status",
            "amount_cents",
            "tax_cents",
            "processor_fee_cents",
            "platform_fee_cents",
        ),
        _order_share,
    ),
    Refund: (("order_id", "status", "amount_cents", "tax_cents", "platform_fee_refunded_cents"), _refund_share),
}


def _values(obj, columns: Iterable[str], *, before: bool) -> dict:
    """The followed attributes of `obj` as they are now, or as they were before this flush changed them."""
    state = sa.inspect(obj)
    found = {}
    for name in columns:
        if before:
            history = state.attrs[name].history
            if history.deleted:
                found[name] = history.deleted[0]
                continue
            if history.added:  # it was empty before
                found[name] = None
                continue
        found[name] = getattr(obj, name)
    return found


def _deltas(session: Session) -> dict[tuple, Counter]:
    """What this flush changed, keyed like the shares: the new contributions less the old ones."""
    deltas: dict[tuple, Counter] = defaultdict(Counter)

    def add(shares: dict[tuple, Counter], sign: int) -> None:
        for key, share in shares.items():
            for name, amount in share.items():
                deltas[key][name] += sign * amount

    for obj in [*session.new, *session.dirty, *session.deleted]:
        followed = FOLLOWED.get(type(obj))
        if followed is None:
            continue
        columns, share_of = followed
        made, gone = obj in session.new, obj in session.deleted
        if not (made or gone or _changed(obj, columns)):
            continue
        if not made:
            add(share_of(_values(obj, columns, before=True)), -1)
        if not gone:
            add(share_of(_values(obj, columns, before=False)), +1)
    return {key: Counter({k: v for k, v in c.items() if v}) for key, c in deltas.items() if any(c.values())}


def _changed(obj, columns: Iterable[str]) -> bool:
    attrs = sa.inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in columns)


# ---------------------------------------------------------------------------
# Adding the changes to the totals
# ---------------------------------------------------------------------------


def _upsert(connection: Connection, model, keys: dict, amounts: dict, returning: str | None = None):
    """Add `amounts` to the row at `keys`, making it if it isn't there yet: one statement, no read first."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    table = model.__table__
    statement = dialect.insert(table).values(**keys, **amounts)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={name: table.c[name] + statement.excluded[name] for name in amounts}
    )
    if returning:
        return connection.execute(statement.returning(table.c[returning])).scalar_one()
    connection.execute(statement)
    return None


def _after_flush(session: Session, flush_context) -> None:
    deltas = _deltas(session)
    if not deltas:
        return
    connection = session.connection()
    offerings = {key[1] for key in deltas if key[0] in ("offering", "learner")}
    orders = {key[1] for key in deltas if key[0] == "refund"}
    creators = _creators_of(connection, offerings)
    order_keys = _offering_and_currency_of(connection, orders)
    sales: dict[tuple, Counter] = defaultdict(Counter)
    learners: dict[tuple, int] = Counter()
    # Every offering whose totals this flush moves has its learner counts row written (locked) first,
    # by a change of nothing if its learners didn't move: a purchase moves its sales in one flush and
    # its learners in the next, a dispute both in one, and without one row always taken first the two
    # could each hold what the other waits for.
    touched = offerings | {key[1] for key in deltas if key[0] == "sales"}
    touched |= {offering_id for offering_id, _currency in order_keys.values()}
    for offering_id in sorted(touched):
        amounts: Counter = deltas.get(("offering", offering_id), Counter())
        _upsert(connection, OfferingStats, {"course_id": offering_id}, {n: amounts.get(n, 0) for n in OFFERING_COUNTS})
    # Sorted, so two transactions touching the same rows lock them in the same order.
    for key in sorted(deltas, key=repr):
        amounts = deltas[key]
        if key[0] == "platform":
            _upsert(connection, PlatformStats, {"id": PLATFORM_ROW}, {n: amounts.get(n, 0) for n in PLATFORM_COUNTS})
        elif key[0] == "learner":
            learners[(creators[key[1]], key[2])] += amounts["offerings"]
        elif key[0] == "sales":
            sales[(key[1], key[2])].update(amounts)
        elif key[0] == "refund":
            sales[order_keys[key[1]]].update(amounts)
    for (offering_id, currency), amounts in sorted(sales.items()):
        if any(amounts.values()):
            _upsert(
                connection,
                OfferingSales,
                {"course_id": offering_id, "currency": currency},
                {n: amounts.get(n, 0) for n in SALES_SUMS},
            )
    for (creator_id, user_id), change in sorted(learners.items()):
        if change:
            _count_learner(connection, creator_id, user_id, change)


def _creators_of(connection: Connection, offering_ids: set[int]) -> dict[int, int]:
    if not offering_ids:
        return {}
    return dict(
        connection.execute(sa.select(Offering.id, Offering.creator_id).where(Offering.id.in_(offering_ids))).all()
    )


def _offering_and_currency_of(connection: Connection, order_ids: set[int]) -> dict[int, tuple[int, str]]:
    """Where a refund's money counts: its order's offering and currency."""
    if not order_ids:
        return {}
    rows = connection.execute(sa.select(Order.id, Order.offering_id, Order.currency).where(Order.id.in_(order_ids)))
    return {order_id: (offering_id, currency) for order_id, offering_id, currency in rows}


def _count_learner(connection: Connection, creator_id: int, user_id: int, change: int) -> None:
    """Move a learner's count of the creator's offerings; learners taught moves when it leaves or reaches zero."""
    keys = {"creator_id": creator_id, "user_id": user_id}
    now = _upsert(connection, CreatorLearner, keys, {"offerings": change}, returning="offerings")
    before = now - change
    if before <= 0 < now:
        _upsert(connection, CreatorStats, {"creator_id": creator_id}, {"learners": 1})
    elif now <= 0 < before:
        _upsert(connection, CreatorStats, {"creator_id": creator_id}, {"learners": -1})
    if now <= 0:
        connection.execute(
            sa.delete(cast(sa.Table, CreatorLearner.__table__)).where(
                CreatorLearner.creator_id == creator_id, CreatorLearner.user_id == user_id
            )
        )


def keep_up_to_date() -> None:
    """Follow every session's flushes (once per process)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


# ---------------------------------------------------------------------------
# Reading them
# ---------------------------------------------------------------------------


def offering_learners() -> sa.ColumnElement[int]:
    """Learners with access now to the offering (`Offering`) of the enclosing query: one row read."""
    return sa.func.coalesce(
        sa.select(OfferingStats.active).where(OfferingStats.offering_id == Offering.id).scalar_subquery(), 0
    )


def offering_completed() -> sa.ColumnElement[int]:
    """Learners with access now who completed the offering (`Offering`) of the enclosing query."""
    return sa.func.coalesce(
        sa.select(OfferingStats.completed).where(OfferingStats.offering_id == Offering.id).scalar_subquery(), 0
    )


def offering_net_cents() -> sa.ColumnElement[int]:
    """The offering's (`Offering`) net to date, over the currencies it sold in (as the studio always showed it)."""
    return (
        sa.select(whole_sum(OfferingSales.net_cents)).where(OfferingSales.offering_id == Offering.id).scalar_subquery()
    )


def learners_taught(creator_id) -> sa.ColumnElement[int]:
    """People with access now to at least one of the creator's offerings (`creator_id` a value or a column)."""
    return sa.func.coalesce(
        sa.select(CreatorStats.learners).where(CreatorStats.creator_id == creator_id).scalar_subquery(), 0
    )


def platform_count(name: str) -> sa.ColumnElement[int]:
    """One of the platform's counts ("accounts", "suspended_accounts"): one row read."""
    column = getattr(PlatformStats, name)
    return sa.func.coalesce(sa.select(column).where(PlatformStats.id == PLATFORM_ROW).scalar_subquery(), 0)


def offering_counts(offering_id: int) -> dict[str, int]:
    """An offering's learners by access state ("active", "suspended", "revoked"): one row read."""
    row = db.session.get(OfferingStats, offering_id, populate_existing=True)
    return {status.value: getattr(row, status.value) if row else 0 for status in EnrollmentStatus}


# ---------------------------------------------------------------------------
# Counting from scratch
# ---------------------------------------------------------------------------


def recount_offerings() -> sa.Select:
    """(course_id, active, suspended, revoked, completed) counted from the enrollments."""
    active = Enrollment.status == EnrollmentStatus.ACTIVE

    def count(condition) -> sa.ColumnElement[int]:
        return whole_sum(sa.case((condition, 1), else_=0))

    return sa.select(
        Enrollment.offering_id,
        count(active),
        count(Enrollment.status == EnrollmentStatus.SUSPENDED),
        count(Enrollment.status == EnrollmentStatus.REVOKED),
        count(sa.and_(active, Enrollment.completed_at.is_not(None))),
    ).group_by(Enrollment.offering_id)


def recount_sales() -> sa.Select:
    """(course_id, currency, orders, gross, refunded, net, platform fee, fee returned) summed from the orders."""
    refunds = order_refunds()
    return (
        sa.select(
            Order.offering_id,
            Order.currency,
            sa.func.count(Order.id),
            whole_sum(Order.revenue_cents),
            whole_sum(sa.func.coalesce(refunds.c.revenue_cents, 0)),
            whole_sum(order_net_cents(refunds)),
            whole_sum(Order.platform_fee_cents),
            whole_sum(sa.func.coalesce(refunds.c.platform_fee_cents, 0)),
        )
        .outerjoin(refunds, refunds.c.order_id == Order.id)
        .where(Order.status.in_(SETTLED_STATUSES))
        .group_by(Order.offering_id, Order.currency)
    )


def recount_creator_learners() -> sa.Select:
    """(creator_id, user_id, offerings with access) from the active enrollments."""
    return (
        sa.select(Offering.creator_id, Enrollment.user_id, sa.func.count(Enrollment.id))
        .join(Offering, Offering.id == Enrollment.offering_id)
        .where(Enrollment.status == EnrollmentStatus.ACTIVE)
        .group_by(Offering.creator_id, Enrollment.user_id)
    )


def recount_creators() -> sa.Select:
    """(creator_id, learners taught) from the active enrollments."""
    return (
        sa.select(Offering.creator_id, sa.func.count(sa.distinct(Enrollment.user_id)))
        .join(Offering, Offering.id == Enrollment.offering_id)
        .where(Enrollment.status == EnrollmentStatus.ACTIVE)
        .group_by(Offering.creator_id)
    )


def recount_platform() -> sa.Select:
    """(the one row's id, accounts, suspended accounts) counted from the accounts."""
    return sa.select(
        sa.literal(PLATFORM_ROW),
        sa.func.count(User.id),
        whole_sum(sa.case((User.suspended_at.is_not(None), 1), else_=0)),
    )


RECOUNTS = (
    (PlatformStats, ("id", *PLATFORM_COUNTS), recount_platform),
    (OfferingStats, ("course_id", *OFFERING_COUNTS), recount_offerings),
    (OfferingSales, ("course_id", "currency", *SALES_SUMS), recount_sales),
    (CreatorLearner, ("creator_id", "user_id", "offerings"), recount_creator_learners),
    (CreatorStats, ("creator_id", "learners"), recount_creators),
)


def rebuild() -> None:
    """Replace every running total by a recount of the rows (flushes, never commits)."""
    db.session.flush()
    for model, columns, recount in RECOUNTS:
        table = cast(sa.Table, model.__table__)
        db.session.execute(sa.delete(table))
        db.session.execute(sa.insert(table).from_select([table.c[name] for name in columns], recount()))
