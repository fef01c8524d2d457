"""Random sequences of everything that changes access, checked after every step.

Purchases through Stripe Checkout (the fake Stripe over HTTP, webhooks signed by the real
algorithm, delivered again and again), refunds full and partial from the studio and from
Stripe, disputes opened and closed with each outcome, complimentary grants, CSV enrolment,
revoke and restore, for three learners in a live workshop of two seats. After each step:
- one person never holds two standing payments for one offering;
- access matches the order and the dispute: active access bought is backed by a paid
  order, a pause by an open dispute, and a fully refunded order gives no access;
- seats never exceed the workshop's capacity;
- the ledger's net is what every screen shows.
A complimentary grant or a list after the creator's own revoke (even refunded afterwards) is the
creator adding someone again, like Restore; after a refund or a chargeback it must not let them in.
Those sequences are also replayed step by step, so the random search need not happen upon them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from courseplatform.checkout.services import CheckoutError, RefundError, begin_checkout, open_checkout, refund_order
from courseplatform.enrollments import access_changes
from courseplatform.enrollments.states import AccessState, state_of
from courseplatform.extensions import db
from courseplatform.models import (
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    LiveSession,
    OfferingKind,
    Order,
    OrderStatus,
    Refund,
    User,
    utcnow,
)
from courseplatform.models.commerce import SETTLED_STATUSES
from courseplatform.studio.learners.services import LearnerError, enrol_list, grant_access, read_learner_list
from courseplatform.studio.offerings.services import offerings_overview
from courseplatform.studio.payouts.services import earnings

from ..checkout.conftest import Webhooks, fake_stripe_server, stripe_api, webhooks  # noqa: F401
from ..factories import CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory, UserFactory
from ..fakes.stripe_api import FakeStripe

CAPACITY = 2
LEARNERS = 3
STANDING = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.DISPUTED)
DISPUTE_ENDINGS = ("won", "lost")


def _workshop(fake):
    account = fake.add_account(charges_enabled=True, details_submitted=True, payouts_enabled=True)
    creator = CreatorProfileFactory(stripe_account_id=account["id"], stripe_charges_enabled=True)
    offering = OfferingFactory(creator=creator, kind=OfferingKind.LIVE_WORKSHOP, price_cents=4900)
    LessonFactory(section=SectionFactory(offering=offering))
    db.session.add(
        LiveSession(
            offering=offering,
            starts_at=datetime.now(UTC) + timedelta(days=7),
            time_zone="UTC",
            duration_minutes=60,
            capacity=CAPACITY,
        )
    )
    db.session.commit()
    return offering


class AccessMachine(RuleBasedStateMachine):
    """Three learners and a workshop of two seats; `machine_for` gives it the test's webhook sender."""

    webhooks: Webhooks  # posts signed events to the app; its `fake` is the fake Stripe

    @property
    def fake(self) -> FakeStripe:
        return self.webhooks.fake

    @initialize()
    def setup(self):
        self.offering = _workshop(self.fake)
        self.creator = self.offering.creator.user
        self.learners = [UserFactory() for _ in range(LEARNERS)]
        db.session.commit()
        self.events: list[dict] = []
        self.open_disputes: dict[int, str] = {}  # order id → dispute id
        # learner id → when the creator last gave them back access by hand: Restore, or (after their own
        # revoke, even if the payment was refunded afterwards) a complimentary grant or a list
        self.restored_at: dict[int, datetime] = {}

    # --------------------------------------------------------------- helpers

    def _deliver(self, kind: str, obj: dict) -> None:
        event, response = self.webhooks.send(kind, obj)
        assert response.status_code == 200, response.get_data(as_text=True)
        self.events.append(event)
        self._fresh()

    @staticmethod
    def _fresh() -> None:
        """Start a new unit of work after what the requests committed, so a rollback undoes only our own."""
        db.session.commit()
        db.session.expire_all()

    def _orders(self, *statuses: OrderStatus) -> list[Order]:
        return list(
            db.session.scalars(
                sa.select(Order)
                .where(Order.offering_id == self.offering.id, Order.status.in_(statuses))
                .order_by(Order.id)
            )
        )

    def _states(self, learners: list[int]) -> dict[int, AccessState]:
        """Each learner's access state (by learner id), before a grant or a list."""
        ids = [self.learners[i].id for i in learners]
        return {learner_id: state_of(access_changes.enrollment_of(learner_id, self.offering.id)) for learner_id in ids}

    def _added_back_by_hand(self, before: dict[int, AccessState]) -> None:
        """Note who a grant or a list brought back after the creator's revoke; check nobody came back otherwise.

        After their own revoke the creator may add someone again (as Restore does); access that
        ended with a refund or a chargeback comes back only by buying again or by Restore.
        """
        for learner_id, state in before.items():
            enrollment = access_changes.enrollment_of(learner_id, self.offering.id)
            if enrollment is None or not enrollment.is_active:
                continue
            assert state not in (AccessState.REFUNDED, AccessState.CHARGED_BACK), (state, enrollment.reason)
            if state is AccessState.ENDED_BY_CREATOR:
                self.restored_at[learner_id] = utcnow()

    # --------------------------------------------------------------- rules

    @rule(who=st.integers(0, LEARNERS - 1))
    def purchase(self, who):
        self._fresh()
        learner = db.session.get(User, self.learners[who].id)
        try:
            order = begin_checkout(learner, self.offering, 4900)
        except CheckoutError:
            db.session.rollback()
            return
        db.session.commit()
        if not isinstance(order, Order):
            return
        try:
            open_checkout(order)
        except CheckoutError:
            db.session.commit()
            return
        db.session.commit()
        self._deliver("checkout.session.completed", self.fake.complete_session(order.checkout_id))

    def _refundable(self) -> bool:
        return bool(self._orders(OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED))

    @precondition(lambda self: self.events)
    @rule(data=st.data())
    def webhook_again(self, data):
        self._fresh()
        if not self.events:
            return
        event = data.draw(st.sampled_from(self.events))
        response = self.webhooks.deliver(event)
        assert response.status_code == 200
        self._fresh()

    @precondition(lambda self: self._refundable())
    @rule(data=st.data(), full=st.booleans(), in_stripe=st.booleans())
    def refund(self, data, full, in_stripe):
        self._fresh()
        orders = [o for o in self._orders(OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED) if o.refundable_cents]
        if not orders:
            return
        self._refund(data.draw(st.sampled_from(orders)), full, in_stripe)

    def _refund(self, order: Order, full: bool, in_stripe: bool) -> None:
        amount = order.refundable_cents if full else min(1000, order.refundable_cents)
        if in_stripe:
            self._deliver("charge.refunded", self.fake.refund_outside_app(order.payment_intent_id, amount))
            return
        try:
            refund_order(order, amount, by=self.creator)
        except RefundError:
            db.session.rollback()
            return
        db.session.commit()
        # Stripe tells the app about the refund it just made, too.
        self._deliver("charge.refunded", self.fake.charges[order.charge_id])

    @precondition(lambda self: self._refundable())
    @rule(data=st.data())
    def open_dispute(self, data):
        self._fresh()
        orders = [o for o in self._orders(OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED) if o.charge_id]
        orders = [o for o in orders if o.id not in self.open_disputes]
        if not orders:
            return
        self._open_dispute(data.draw(st.sampled_from(orders)))

    def _open_dispute(self, order: Order) -> None:
        dispute = self.fake.open_dispute(order.charge_id)
        self.open_disputes[order.id] = dispute["id"]
        self._deliver("charge.dispute.created", dispute)

    @precondition(lambda self: self.open_disputes)
    @rule(data=st.data(), ending=st.sampled_from(DISPUTE_ENDINGS))
    def close_dispute(self, data, ending):
        self._fresh()
        if not self.open_disputes:
            return
        self._close_dispute(data.draw(st.sampled_from(sorted(self.open_disputes))), ending)

    def _close_dispute(self, order_id: int, ending: str) -> None:
        dispute_id = self.open_disputes.pop(order_id)
        self._deliver("charge.dispute.closed", self.fake.close_dispute(dispute_id, ending))

    @rule(who=st.integers(0, LEARNERS - 1))
    def comp(self, who):
        self._fresh()
        before = self._states([who])
        try:
            grant_access(self.offering, self.learners[who].email)
        except LearnerError:
            db.session.rollback()
            return
        db.session.commit()
        self._added_back_by_hand(before)

    @rule(who=st.sets(st.integers(0, LEARNERS - 1), min_size=1))
    def csv_enrol(self, who):
        self._fresh()
        listed = "\n".join(["email", *(self.learners[i].email for i in sorted(who))]).encode()
        before = self._states(sorted(who))
        people, report = read_learner_list(listed)
        enrol_list(self.offering, people, report, notify=False)
        db.session.commit()
        self._added_back_by_hand(before)

    @rule(who=st.integers(0, LEARNERS - 1))
    def revoke(self, who):
        self._fresh()
        enrollment = access_changes.enrollment_of(self.learners[who].id, self.offering.id)
        if enrollment is not None:
            access_changes.revoke(enrollment)
            db.session.commit()

    @rule(who=st.integers(0, LEARNERS - 1))
    def restore(self, who):
        self._fresh()
        from courseplatform.studio.learners.services import restore_access

        enrollment = access_changes.enrollment_of(self.learners[who].id, self.offering.id)
        if enrollment is None or enrollment.status is not EnrollmentStatus.REVOKED:
            return
        try:
            restore_access(enrollment)
        except LearnerError:
            db.session.rollback()
            return
        db.session.commit()
        self.restored_at[enrollment.user_id] = utcnow()

    # --------------------------------------------------------------- invariants

    @invariant()
    def one_standing_payment_per_person(self):
        db.session.expire_all()
        standing = db.session.execute(
            sa.select(Order.learner_id, sa.func.count(Order.id))
            .where(Order.offering_id == self.offering.id, Order.status.in_(STANDING))
            .group_by(Order.learner_id)
        ).all()
        assert all(count <= 1 for _, count in standing), standing

    @invariant()
    def access_matches_the_money(self):
        rows = db.session.execute(
            sa.select(Enrollment, Order)
            .outerjoin(Order, Order.id == Enrollment.order_id)
            .where(Enrollment.offering_id == self.offering.id)
        ).all()
        for enrollment, order in rows:
            state = (enrollment.status, enrollment.reason, order.status if order else None)
            if enrollment.status is EnrollmentStatus.ACTIVE and enrollment.source is EnrollmentSource.PURCHASE:
                assert order is not None and order.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED), state
            if enrollment.status is EnrollmentStatus.SUSPENDED:
                assert order is not None and order.status is OrderStatus.DISPUTED, state
            if order is not None and order.status is OrderStatus.REFUNDED:
                assert enrollment.status is EnrollmentStatus.REVOKED, state

    @invariant()
    def money_given_back_ends_access_until_bought_again_or_restored_by_hand(self):
        orders = self._orders(*SETTLED_STATUSES)
        for learner in self.learners:
            mine = [o for o in orders if o.learner_id == learner.id]
            given_back = [o.refunded_at for o in mine if o.status is OrderStatus.REFUNDED and o.refunded_at]
            if not given_back:
                continue
            cleared = [o.paid_at for o in mine if o.status in STANDING and o.paid_at]
            if learner.id in self.restored_at:
                cleared.append(self.restored_at[learner.id])
            enrollment = access_changes.enrollment_of(learner.id, self.offering.id)
            if enrollment is not None and enrollment.is_active:
                assert cleared and max(cleared) > max(given_back), (enrollment.reason, enrollment.source)

    @invariant()
    def seats_never_exceed_capacity(self):
        holding = db.session.scalar(
            sa.select(sa.func.count(Enrollment.id)).where(
                Enrollment.offering_id == self.offering.id,
                Enrollment.status.in_((EnrollmentStatus.ACTIVE, EnrollmentStatus.SUSPENDED)),
            )
        )
        assert holding <= CAPACITY

    @invariant()
    def the_ledger_net_is_what_every_screen_shows(self):
        orders = self._orders(*SETTLED_STATUSES)
        refunds = {order.id: 0 for order in orders}
        for refund in db.session.scalars(sa.select(Refund).where(Refund.order_id.in_(refunds))):
            refunds[refund.order_id] += refund.amount_cents - refund.platform_fee_refunded_cents
        by_hand = sum(o.amount_cents - o.processor_fee_cents - o.platform_fee_cents - refunds[o.id] for o in orders)
        profile = self.offering.creator
        (row,) = offerings_overview(profile, self.offering.id)
        totals = earnings(profile).totals
        assert row.revenue_cents == by_hand
        assert (totals[0].net_cents if totals else 0) == by_hand


def machine_for(sender: Webhooks) -> type[AccessMachine]:
    """The machine, posting its webhooks with `sender` (the test's fixture, over the fake Stripe)."""
    return type("AccessMachine", (AccessMachine,), {"webhooks": sender})


@pytest.mark.usefixtures("app")
def test_random_sequences_keep_access_money_and_seats_consistent(webhooks):  # noqa: F811
    run_state_machine_as_test(
        machine_for(webhooks),
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )


INVARIANTS = (
    "one_standing_payment_per_person",
    "access_matches_the_money",
    "money_given_back_ends_access_until_bought_again_or_restored_by_hand",
    "seats_never_exceed_capacity",
    "the_ledger_net_is_what_every_screen_shows",
)


def _latest_order(machine: AccessMachine) -> Order:
    return machine._orders(*SETTLED_STATUSES)[-1]


def _refunded_in_stripe(machine: AccessMachine) -> None:
    machine._refund(_latest_order(machine), full=True, in_stripe=True)


def _refunded_in_the_studio(machine: AccessMachine) -> None:
    machine._refund(_latest_order(machine), full=True, in_stripe=False)


def _charged_back(machine: AccessMachine) -> None:
    order = _latest_order(machine)
    machine._open_dispute(order)
    machine._close_dispute(order.id, "lost")


def _revoked(machine: AccessMachine) -> None:
    machine.revoke(0)


def _granted(machine: AccessMachine) -> None:
    machine.comp(0)


def _listed(machine: AccessMachine) -> None:
    machine.csv_enrol({0})


# After each ending, a grant or a list: only the creator's own revoke (refunded afterwards or not) lets them add
# the learner again.
WAYS_BACK = {
    "refunded in Stripe, then granted": ([_refunded_in_stripe, _granted], False),
    "refunded in the studio, then listed": ([_refunded_in_the_studio, _listed], False),
    "charged back, then granted": ([_charged_back, _granted], False),
    "charged back, then listed": ([_charged_back, _listed], False),
    "revoked, refunded in Stripe, then granted": ([_revoked, _refunded_in_stripe, _granted], True),
    "revoked, refunded in the studio, then listed": ([_revoked, _refunded_in_the_studio, _listed], True),
}


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize(("steps", "back"), WAYS_BACK.values(), ids=WAYS_BACK.keys())
def test_a_grant_or_a_list_adds_back_only_after_the_creators_revoke(webhooks, steps, back):  # noqa: F811
    machine = machine_for(webhooks)()
    machine.setup()
    machine.purchase(0)
    for step in steps:
        step(machine)
        for name in INVARIANTS:
            getattr(machine, name)()
    enrollment = access_changes.enrollment_of(machine.learners[0].id, machine.offering.id)
    assert enrollment is not None and enrollment.is_active is back
