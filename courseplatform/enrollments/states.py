"""The access state machine: which event may move an enrollment from which state, and to what.

An enrollment's `status` (active, suspended, revoked) and its `reason` (the event that put
it there) together give its state. Ended access remembers why it ended, because the rules
differ: a refunded learner may buy again and only the creator may give access back by hand;
a chargeback or the creator's own revoke can't be undone by buying again.
"""

from __future__ import annotations

import enum

from ..models import AccessEvent, Enrollment, EnrollmentStatus


class AccessState(enum.Enum):
    NONE = "none"  # never enrolled
    ACTIVE = "active"
    PAUSED = "paused"  # a payment dispute is open
    OVERDUE = "overdue"  # paused: a payment plan's instalment is overdue
    REFUNDED = "refunded"  # ended: the whole payment went back
    CHARGED_BACK = "charged_back"  # ended: the bank took the payment back (a dispute lost)
    ENDED_BY_CREATOR = "ended_by_creator"
    MEMBERSHIP_ENDED = "membership_ended"  # ended: the membership that gave it was canceled


E = AccessEvent
S = EnrollmentStatus

# Where each event leads from each state. A pair not listed here is either in UNCHANGED
# (a repeat, or news that no longer matters) or refused.
TRANSITIONS: dict[AccessState, dict[AccessEvent, EnrollmentStatus]] = {
    AccessState.NONE: {E.PURCHASE: S.ACTIVE, E.FREE: S.ACTIVE, E.COMP: S.ACTIVE, E.IMPORT: S.ACTIVE},
    AccessState.ACTIVE: {
        E.REFUND: S.REVOKED,
        E.DISPUTE_OPENED: S.SUSPENDED,
        E.DISPUTE_LOST: S.REVOKED,
        E.CREATOR_REVOKE: S.REVOKED,
        E.PAYMENT_OVERDUE: S.SUSPENDED,
        E.MEMBERSHIP_ENDED: S.REVOKED,
    },
    AccessState.OVERDUE: {
        E.PAYMENT_RECOVERED: S.ACTIVE,
        E.RESTORE: S.ACTIVE,
        E.DISPUTE_LOST: S.REVOKED,
        E.REFUND: S.REVOKED,
        E.CREATOR_REVOKE: S.REVOKED,
        E.MEMBERSHIP_ENDED: S.REVOKED,
    },
    AccessState.PAUSED: {
        E.DISPUTE_WON: S.ACTIVE,
        E.DISPUTE_LOST: S.REVOKED,
        E.REFUND: S.REVOKED,
        E.CREATOR_REVOKE: S.REVOKED,
        E.MEMBERSHIP_ENDED: S.REVOKED,
    },
    AccessState.REFUNDED: {
        E.PURCHASE: S.ACTIVE,
        E.FREE: S.ACTIVE,
        E.RESTORE: S.ACTIVE,
        E.REFUND_FAILED: S.ACTIVE,
        E.DISPUTE_LOST: S.REVOKED,
    },
    AccessState.CHARGED_BACK: {E.RESTORE: S.ACTIVE},
    # A membership that ended: joining again (or the creator) gives it back, progress kept.
    AccessState.MEMBERSHIP_ENDED: {
        E.PURCHASE: S.ACTIVE,
        E.FREE: S.ACTIVE,
        E.COMP: S.ACTIVE,
        E.IMPORT: S.ACTIVE,
        E.RESTORE: S.ACTIVE,
        E.DISPUTE_LOST: S.REVOKED,
    },
    AccessState.ENDED_BY_CREATOR: {
        E.FREE: S.ACTIVE,
        E.COMP: S.ACTIVE,
        E.IMPORT: S.ACTIVE,
        E.RESTORE: S.ACTIVE,
        E.DISPUTE_LOST: S.REVOKED,
    },
}

PAYMENT_NEWS = frozenset({E.REFUND, E.REFUND_FAILED, E.DISPUTE_OPENED, E.DISPUTE_WON, E.DISPUTE_LOST})
# A payment plan's news: an instalment overdue after its retries, and paid at last.
PLAN_NEWS = frozenset({E.PAYMENT_OVERDUE, E.PAYMENT_RECOVERED})
GRANTS = frozenset({E.PURCHASE, E.FREE, E.COMP, E.IMPORT})

UNCHANGED: dict[AccessState, frozenset[AccessEvent]] = {
    AccessState.NONE: PAYMENT_NEWS | PLAN_NEWS | {E.CREATOR_REVOKE, E.MEMBERSHIP_ENDED},
    AccessState.ACTIVE: GRANTS | {E.RESTORE, E.REFUND_FAILED, E.DISPUTE_WON, E.PAYMENT_RECOVERED},
    # An overdue plan stays paused through a dispute's news: only paying (or an end) moves it.
    AccessState.OVERDUE: frozenset({E.PAYMENT_OVERDUE, E.DISPUTE_OPENED, E.DISPUTE_WON, E.REFUND_FAILED}),
    # A dispute's pause is the bank's: the plan's news waits for it to be settled.
    AccessState.PAUSED: frozenset({E.DISPUTE_OPENED, E.REFUND_FAILED}) | PLAN_NEWS,
    AccessState.REFUNDED: frozenset({E.REFUND, E.DISPUTE_OPENED, E.DISPUTE_WON, E.CREATOR_REVOKE, E.MEMBERSHIP_ENDED})
    | PLAN_NEWS,
    AccessState.CHARGED_BACK: PAYMENT_NEWS | PLAN_NEWS | {E.CREATOR_REVOKE, E.MEMBERSHIP_ENDED},
    AccessState.MEMBERSHIP_ENDED: frozenset(
        {E.REFUND, E.REFUND_FAILED, E.DISPUTE_OPENED, E.DISPUTE_WON, E.CREATOR_REVOKE, E.MEMBERSHIP_ENDED}
    )
    | PLAN_NEWS,
    # A refund after the creator's revoke keeps it theirs: otherwise the learner could buy back in.
    AccessState.ENDED_BY_CREATOR: frozenset(
        {E.CREATOR_REVOKE, E.REFUND, E.REFUND_FAILED, E.DISPUTE_OPENED, E.DISPUTE_WON, E.MEMBERSHIP_ENDED}
    )
    | PLAN_NEWS,
}

ENDED_BY = {
    E.REFUND: AccessState.REFUNDED,
    E.DISPUTE_LOST: AccessState.CHARGED_BACK,
    E.CREATOR_REVOKE: AccessState.ENDED_BY_CREATOR,
    E.MEMBERSHIP_ENDED: AccessState.MEMBERSHIP_ENDED,
}


def state_of(enrollment: Enrollment | None) -> AccessState:
    """The state an enrollment is in (NONE for no enrollment)."""
    if enrollment is None:
        return AccessState.NONE
    if enrollment.status is S.ACTIVE:
        return AccessState.ACTIVE
    if enrollment.status is S.SUSPENDED:
        return AccessState.OVERDUE if enrollment.reason is E.PAYMENT_OVERDUE else AccessState.PAUSED
    return ENDED_BY.get(enrollment.reason, AccessState.ENDED_BY_CREATOR)


class AccessRefused(ValueError):
    """An event the table forbids in the enrollment's state; `state` says which, for the message."""

    def __init__(self, enrollment: Enrollment | None, state: AccessState, event: AccessEvent) -> None:
        super().__init__(f"{event.value} refused in state {state.value}")
        self.enrollment = enrollment
        self.state = state
        self.event = event


def next_status(enrollment: Enrollment | None, event: AccessEvent) -> EnrollmentStatus | None:
    """The status `event` moves the enrollment to; None when it changes nothing; AccessRefused if forbidden."""
    state = state_of(enrollment)
    target = TRANSITIONS[state].get(event)
    if target is not None:
        return target
    if event in UNCHANGED[state]:
        return None
    raise AccessRefused(enrollment, state, event)
