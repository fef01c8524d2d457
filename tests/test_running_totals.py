"""The running totals (learners and sales per offering, learners per creator) always equal a recount.

A seeded random mix of everything that moves an enrollment or money — purchases, free and
complimentary access, refunds whole and partial (pending, succeeded, failed), disputes
opened, won and lost, the creator's revokes and restores, completions, rows written by
other code — is played through the real services, and after every step the totals kept
as they went are compared with the same figures counted from scratch.
"""

from __future__ import annotations

import contextlib
import random
import threading

import pytest
import sqlalchemy as sa

from courseplatform import stats
from courseplatform.checkout.services import (
    CheckoutError,
    RefundError,
    Reversal,
    begin_checkout,
    fulfil_order,
    refund_order,
    reverse_payment,
)
from courseplatform.enrollments import access_changes
from courseplatform.extensions import db
from courseplatform.learning.progress import complete_lesson, update_completion
from courseplatform.models import (
    AccessEvent,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    Offering,
    OfferingStats,
    OfferingStatus,
    Order,
    OrderStatus,
    Refund,
    RefundStatus,
)
from courseplatform.models.base import utcnow
from tests.factories import (
    CreatorProfileFactory,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    OrderFactory,
    SectionFactory,
    UserFactory,
)
from tests.helpers import committed_application

STEPS = 160


def kept_totals() -> dict:
    """Every running total as stored, leaving out rows that count nothing."""
    found = {}
    for model, columns, _recount in stats.RECOUNTS:
        table = model.__table__
        rows = db.session.execute(sa.select(*(table.c[name] for name in columns))).all()
        keys = len(table.primary_key.columns)
        found[model.__tablename__] = {tuple(r[:keys]): tuple(r[keys:]) for r in rows if any(r[keys:])}
    return found


def recounted_totals() -> dict:
    found = {}
    for model, _columns, recount in stats.RECOUNTS:
        keys = len(model.__table__.primary_key.columns)
        rows = db.session.execute(recount()).all()
        found[model.__tablename__] = {tuple(r[:keys]): tuple(int(v) for v in r[keys:]) for r in rows if any(r[keys:])}
    return found


class Shop:
    """Two creators, three offerings (one in two currencies over time), a dozen learners, and a seeded die."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        first, second = CreatorProfileFactory(), CreatorProfileFactory()
        self.offerings = [
            OfferingFactory(creator=first, price_cents=4900),
            OfferingFactory(creator=first, price_cents=12000),
            OfferingFactory(creator=second, price_cents=2500, currency="EUR"),
        ]
        self.lessons = {}
        for offering in self.offerings:
            section = SectionFactory(offering=offering)
            self.lessons[offering.id] = [LessonFactory(section=section), LessonFactory(section=section)]
        self.learners = [UserFactory() for _ in range(12)]
        self.creator_user = first.user
        self.provider_ids = 0

    def pick(self, items):
        return self.random.choice(items)

    def enrollments(self, *statuses: EnrollmentStatus) -> list[Enrollment]:
        statement = sa.select(Enrollment).order_by(Enrollment.id)
        if statuses:
            statement = statement.where(Enrollment.status.in_(statuses))
        return list(db.session.scalars(statement))

    def orders(self, *statuses: OrderStatus) -> list[Order]:
        return list(db.session.scalars(sa.select(Order).where(Order.status.in_(statuses)).order_by(Order.id)))

    def next_refund_id(self) -> str:
        self.provider_ids += 1
        return f"re_totals_{self.provider_ids}"

    # ------------------------------------------------------------------ steps

    def purchase(self) -> None:
        offering, learner = self.pick(self.offerings), self.pick(self.learners)
        try:
            order = begin_checkout(learner, offering, offering.price_cents)
        except CheckoutError:
            return
        if isinstance(order, Order):
            fulfil_order(order.id, paid=self.random.random() < 0.9)

    def late_payment(self) -> None:
        pending = self.orders(OrderStatus.PENDING)
        if pending:
            fulfil_order(self.pick(pending).id, paid=True)

    def comp_or_free(self) -> None:
        event = self.pick([AccessEvent.COMP, AccessEvent.FREE, AccessEvent.IMPORT])
        with contextlib.suppress(access_changes.AccessRefused, access_changes.NoSeat):
            access_changes.grant(self.pick(self.learners), self.pick(self.offerings), event)

    def studio_refund(self) -> None:
        orders = [o for o in self.orders(OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED) if o.refundable_cents]
        if not orders:
            return
        order = self.pick(orders)
        amount = order.refundable_cents if self.random.random() < 0.5 else max(1, order.refundable_cents // 3)
        with contextlib.suppress(RefundError):
            refund_order(order, amount, by=self.creator_user)

    def refund_that_moves(self) -> None:
        """A provider refund reported pending, then succeeded or failed (and maybe failed after succeeding)."""
        orders = [o for o in self.orders(OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED) if o.refundable_cents]
        if not orders:
            return
        order = self.pick(orders)
        refund_id = self.next_refund_id()
        amount = self.pick([order.refundable_cents, max(1, order.refundable_cents // 2)])
        for status in self.pick(
            [
                [RefundStatus.PENDING, RefundStatus.SUCCEEDED],
                [RefundStatus.PENDING, RefundStatus.FAILED],
                [RefundStatus.SUCCEEDED, RefundStatus.FAILED],
                [RefundStatus.SUCCEEDED],
            ]
        ):
            reverse_payment(order, Reversal(Reversal.REFUND, amount, refund_id, "Provider refund", None, status))

    def dispute(self) -> None:
        orders = self.orders(OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.DISPUTED)
        if not orders:
            return
        order = self.pick(orders)
        if order.status is not OrderStatus.DISPUTED:
            reverse_payment(order, Reversal(Reversal.DISPUTE_OPENED))
        elif self.random.random() < 0.5:
            reverse_payment(order, Reversal(Reversal.DISPUTE_WON))
        else:
            left = order.amount_cents - order.refunded_cents
            reverse_payment(order, Reversal(Reversal.DISPUTE_LOST, left, self.next_refund_id(), "Chargeback"))

    def revoke(self) -> None:
        found = self.enrollments(EnrollmentStatus.ACTIVE)
        if found:
            access_changes.revoke(self.pick(found))

    def restore(self) -> None:
        found = self.enrollments(EnrollmentStatus.REVOKED)
        if found:
            with contextlib.suppress(access_changes.AccessRefused, access_changes.NoSeat):
                access_changes.restore(self.pick(found))

    def complete(self) -> None:
        found = self.enrollments(EnrollmentStatus.ACTIVE, EnrollmentStatus.REVOKED)
        if not found:
            return
        enrollment = self.pick(found)
        for lesson in self.lessons[enrollment.offering_id][: self.pick([1, 2])]:
            complete_lesson(enrollment, lesson)
        update_completion(enrollment)

    def suspend_or_unsuspend(self) -> None:
        """An operator suspends an account, or lets a suspended one log in again."""
        learner = self.pick(self.learners)
        learner.suspended_at = None if learner.suspended_at else utcnow()
        db.session.flush()

    def switch_currency(self) -> None:
        """The creator sells the offering in another currency from now on: its sales split by currency."""
        offering = self.offerings[0]
        offering.currency = "GBP" if offering.currency == "USD" else "USD"
        db.session.flush()

    def written_elsewhere(self) -> None:
        """Rows made by other code than the services (an import script, a test factory) are counted too."""
        offering, learner = self.pick(self.offerings), UserFactory()
        if self.random.random() < 0.5:
            EnrollmentFactory(offering=offering, user=learner, status=self.pick(list(EnrollmentStatus)))
        else:
            order = OrderFactory(offering=offering, learner=learner, currency=offering.currency, platform_fee_cents=300)
            EnrollmentFactory(offering=offering, user=learner, order=order)

    STEP_WEIGHTS = {
        purchase: 6,
        late_payment: 1,
        comp_or_free: 3,
        studio_refund: 2,
        refund_that_moves: 2,
        dispute: 3,
        revoke: 2,
        restore: 2,
        complete: 3,
        switch_currency: 1,
        suspend_or_unsuspend: 1,
        written_elsewhere: 1,
    }

    def step(self) -> str:
        steps, weights = zip(*self.STEP_WEIGHTS.items(), strict=True)
        chosen = self.random.choices(steps, weights)[0]
        chosen(self)
        db.session.flush()
        return chosen.__name__


@pytest.mark.parametrize("seed", [17, 2026])
def test_running_totals_equal_a_recount_after_every_change(app, seed):
    shop = Shop(seed)
    done = []
    for _ in range(STEPS):
        done.append(shop.step())
        assert kept_totals() == recounted_totals(), f"after {done[-5:]}"
    # The mix really exercised what the totals follow.
    statuses = {e.status for e in shop.enrollments()}
    assert statuses == set(EnrollmentStatus)
    assert {o.status for o in shop.orders(*OrderStatus)} >= {
        OrderStatus.PAID,
        OrderStatus.REFUNDED,
        OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.DISPUTED,
    }
    assert kept_totals()["creator_stats"], "learners taught were counted"
    assert {learner.suspended_at is None for learner in shop.learners} == {True, False}, "suspensions were counted"


def test_rebuild_recounts_totals_that_bulk_statements_left_behind(app):
    offering = OfferingFactory()
    EnrollmentFactory(offering=offering)
    OrderFactory(offering=offering, platform_fee_cents=500)
    # A bulk statement bypasses the bookkeeping: the totals are stale until rebuilt.
    db.session.execute(sa.update(Enrollment).values(status=EnrollmentStatus.REVOKED))
    assert kept_totals() != recounted_totals()

    stats.rebuild()

    assert kept_totals() == recounted_totals()
    row = db.session.get(stats.OfferingStats, offering.id)
    assert (row.active, row.revoked) == (0, 1)


def test_rebuild_stats_command_recounts(app, runner):
    offering = OfferingFactory(status=OfferingStatus.PUBLISHED)
    EnrollmentFactory(offering=offering)
    db.session.execute(sa.delete(stats.OfferingStats))

    result = runner.invoke(args=["rebuild-stats"])

    assert result.exit_code == 0 and "recounted" in result.output
    assert db.session.get(stats.OfferingStats, offering.id).active == 1
    assert db.session.get(Offering, offering.id) is not None


# ---------------------------------------------------------------------------
# Two transactions at once


@pytest.fixture(scope="module")
def committing(tmp_path_factory):
    with committed_application(tmp_path_factory, "totals") as application:
        yield application


def test_a_purchase_and_a_refund_of_one_offering_at_once_both_commit(committing):
    # A purchase moves the offering's sales in one flush and its learners in the next; a refund that
    # ends access moves both in one. Each must wait for the other, never hold what the other waits for.
    with committing.app_context():
        offering = OfferingFactory(price_cents=4900)
        buying = OrderFactory(offering=offering, status=OrderStatus.PENDING, paid_at=None)
        refunded = OrderFactory(offering=offering)
        EnrollmentFactory(offering=offering, user=refunded.learner, order=refunded, source=EnrollmentSource.PURCHASE)
        db.session.commit()
        offering_id, buying_id, refunded_id = offering.id, buying.id, refunded.id

    failures: list[BaseException] = []
    refund_flushed = threading.Event()

    def refund() -> None:
        with committing.app_context():
            try:
                order = db.session.get(Order, refunded_id)
                enrollment = db.session.scalar(sa.select(Enrollment).filter_by(order_id=refunded_id))
                # Money back and access ended in one flush, as refund_order does.
                order.status = OrderStatus.REFUNDED
                db.session.add(
                    Refund(
                        order_id=order.id,
                        amount_cents=order.amount_cents,
                        status=RefundStatus.SUCCEEDED,
                        ended_access=True,
                    )
                )
                enrollment.status = EnrollmentStatus.REVOKED
                db.session.flush()
                refund_flushed.set()
                db.session.commit()
            except BaseException as exc:
                failures.append(exc)
                db.session.rollback()
            finally:
                refund_flushed.set()
                db.session.remove()

    with committing.app_context():
        order = db.session.get(Order, buying_id)
        order.status, order.paid_at = OrderStatus.PAID, utcnow()
        db.session.flush()  # the sale counted
        other = threading.Thread(target=refund)
        other.start()
        refund_flushed.wait(timeout=1.5)  # the dispute is blocked behind the sale (or would take its rows)
        try:
            db.session.add(
                Enrollment(
                    user_id=order.learner_id,
                    offering_id=offering_id,
                    order_id=order.id,
                    source=EnrollmentSource.PURCHASE,
                )
            )
            db.session.flush()  # the learner counted
            db.session.commit()
        except BaseException as exc:
            failures.append(exc)
            db.session.rollback()
        other.join(timeout=30)
        assert not failures, failures
        assert kept_totals() == recounted_totals()
        counts = db.session.get(OfferingStats, offering_id)
        assert (counts.active, counts.revoked) == (1, 1)
        db.session.remove()
