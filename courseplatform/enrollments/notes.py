"""What people are told about access that isn't active: the learner on the offering's page and
in the player, the creator in the studio and in a CSV report."""

from __future__ import annotations

from dataclasses import dataclass

from ..formatting import format_date
from ..models import AccessEvent, Enrollment
from .states import AccessState, state_of


@dataclass(frozen=True)
class LearnerNote:
    """Why the learner has no access now, and whether buying again is the way back."""

    title: str
    text: str
    may_buy: bool


def learner_note(enrollment: Enrollment | None, zone: str | None = None) -> LearnerNote | None:
    """The note for an enrollment that isn't active (None when there is nothing to explain)."""
    state = state_of(enrollment)
    if enrollment is None or state in (AccessState.NONE, AccessState.ACTIVE):
        return None
    creator = enrollment.offering.creator.display_name
    when = format_date(enrollment.revoked_at, zone) if enrollment.revoked_at else ""
    if state is AccessState.PAUSED:
        return LearnerNote(
            "Your access is paused",
            "A payment dispute is open for your purchase, so access is paused. "
            "It comes back as soon as the dispute is settled in the creator's favour.",
            may_buy=False,
        )
    if state is AccessState.OVERDUE:
        return LearnerNote(
            "Your access is paused",
            "An instalment of your payment plan couldn't be taken, so access is paused. "
            "Update your card from My orders: it comes back as soon as the instalment is paid.",
            may_buy=False,
        )
    if state is AccessState.REFUNDED:
        return LearnerNote(
            "Your purchase was refunded",
            f"Your payment was refunded in full on {when}, so your access ended. "
            "Your progress is kept: if you buy it again, you pick up where you left off.",
            may_buy=True,
        )
    if state is AccessState.MEMBERSHIP_ENDED:
        return LearnerNote(
            "Your membership has ended",
            f"The membership that gave you this ended on {when}. Your progress is kept: "
            "join again and you pick up where you left off.",
            may_buy=True,
        )
    if state is AccessState.CHARGED_BACK:
        return LearnerNote(
            "Your access has ended",
            f"Your bank took the payment back on {when} after a dispute, so your access ended. "
            f"If that was a mistake, write to {creator}: only they can give access back.",
            may_buy=False,
        )
    return LearnerNote(
        "Your access has ended",
        f"{creator} ended your access on {when}. If you think that's a mistake, write to them: "
        "only they can give it back.",
        may_buy=False,
    )


def creator_note(enrollment: Enrollment, zone: str | None = None) -> str:
    """Why a person can't be added by a list or a grant, for the studio (e.g. "refunded on Dec 3, 2026")."""
    state = state_of(enrollment)
    when = format_date(enrollment.revoked_at, zone) if enrollment.revoked_at else ""
    if state is AccessState.PAUSED:
        return "Their access is paused while a payment dispute is open; it comes back if it is settled in your favour"
    if state is AccessState.OVERDUE:
        return "Their access is paused: an instalment of their payment plan is overdue; it comes back when they pay"
    if state is AccessState.REFUNDED:
        return f"Not enrolled: refunded on {when}. To give access anyway, use Restore on their row"
    if state is AccessState.MEMBERSHIP_ENDED:
        return f"Not enrolled: their membership ended on {when}. To give access anyway, use Restore"
    if state is AccessState.CHARGED_BACK:
        return f"Not enrolled: their bank took the payment back on {when}. To give access anyway, use Restore"
    if enrollment.reason is AccessEvent.CREATOR_REVOKE:
        return f"Access revoked on {when}. Use Restore on their row to give it back"
    return "Can't be enrolled now"
