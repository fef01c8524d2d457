"""Who may learn, from the one home every path goes through: refunds aren't undone by a list,
ended access is explained, seats and the waitlist agree, and the table is the documented one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from courseplatform.enrollments.states import TRANSITIONS, UNCHANGED, AccessRefused, AccessState, next_status
from courseplatform.extensions import db
from courseplatform.formatting import format_date
from courseplatform.learning.certificates import issue_certificate
from courseplatform.models import (
    AccessEvent,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    OfferingKind,
    Order,
    OrderStatus,
    utcnow,
)

from ..factories import (
    PASSWORD,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    OrderFactory,
    SectionFactory,
    UserFactory,
)
from ..factories.live import live_session
from ..helpers import csrf_token_from
from ..markup import text_of
from ..studio.test_learners import upload
from ..studio.test_refunds_from_studio import refund


def bought(offering, email="pat@example.org", name="Pat Buyer") -> Enrollment:
    learner = UserFactory(email=email, name=name)
    order = OrderFactory(
        learner=learner,
        offering=offering,
        amount_cents=4900,
        status=OrderStatus.PAID,
        payment_intent_id=f"pi_test_{learner.id}",
        platform_fee_cents=490,
        net_cents=4410,
    )
    enrollment = EnrollmentFactory(user=learner, offering=offering, source=EnrollmentSource.PURCHASE, order=order)
    db.session.flush()
    return enrollment


def post_confirmed(web, url: str, page_url: str):
    token = csrf_token_from(web.client.get(page_url).get_data(as_text=True))
    return web.client.post(url, data={"csrf_token": token}, follow_redirects=True)


def verification(client, number: str) -> str:
    return text_of(client.get(f"/certificates/{number}").get_data(as_text=True))


# ---------------------------------------------------------------------------
# 1. A refund is not undone by a list; a revoked certificate stays revoked until reissued
# ---------------------------------------------------------------------------


def test_a_csv_enrol_never_restores_a_refunded_learner_and_the_certificate_stays_revoked(web, client, offering):
    enrollment = bought(offering)
    enrollment.completed_at = utcnow()
    certificate = issue_certificate(enrollment)
    db.session.commit()
    assert "Valid certificate" in verification(client, certificate.number)

    refund(web, offering, enrollment.order, "49.00")
    assert "This certificate was revoked" in verification(client, certificate.number)

    report = text_of(upload(web, offering, b"email\nsam@example.org\npat@example.org\n").get_data(as_text=True))
    today = format_date(utcnow(), "America/New_York")
    assert f"Not enrolled: refunded on {today}" in report
    db.session.expire_all()
    pat = db.session.get(Enrollment, enrollment.id)
    assert pat.status is EnrollmentStatus.REVOKED and pat.reason is AccessEvent.REFUND
    assert "This certificate was revoked" in verification(client, certificate.number)
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id)).where(Enrollment.offering_id == offering.id)) == 2

    # A single grant by e-mail doesn't bring them back either: it points to the knowing Restore.
    roster = f"/studio/courses/{offering.id}/learners"
    granted = web.submit(f"{roster}/grant", {"email": "pat@example.org", "name": ""}, form_url=roster)
    assert "To give access anyway, use Restore on their row" in text_of(granted.get_data(as_text=True))

    # The creator restores Pat knowingly: the row says what happened, access comes back, the certificate doesn't.
    page = text_of(client.get(roster).get_data(as_text=True))
    assert "Refunded" in page and f"Their payment was refunded on {today}" in page
    restored = post_confirmed(web, f"{roster}/{enrollment.id}/restore", roster)
    assert "pat@example.org has access to Grounding Skills again." in text_of(restored.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status is EnrollmentStatus.ACTIVE
    assert "This certificate was revoked" in verification(client, certificate.number)

    # Reissuing is its own, explicit step.
    detail = f"{roster}/{enrollment.id}"
    assert "Reissue certificate" in client.get(detail).get_data(as_text=True)
    post_confirmed(web, f"{detail}/certificate/reissue", detail)
    assert "Valid certificate" in verification(client, certificate.number)


# ---------------------------------------------------------------------------
# 2. Ended access is explained, and never paid for twice
# ---------------------------------------------------------------------------


def test_a_payment_arriving_after_the_creator_ended_access_is_refunded_not_a_second_purchase(web, client, offering):
    enrollment = bought(offering)
    learner = enrollment.user
    # The learner opened a checkout (say, in another tab) before the creator revoked them.
    web.logout()
    web.login(learner.email, PASSWORD)
    enrollment.status, enrollment.reason = EnrollmentStatus.REVOKED, AccessEvent.REFUND
    enrollment.order.status, enrollment.order.refunded_cents = OrderStatus.REFUNDED, 4900
    db.session.commit()
    start = web.submit("/courses/grounding/checkout", {}, form_url="/courses/grounding", follow_redirects=False)
    pay_page = start.headers["Location"]
    order_id = int(re.search(r"/checkout/test/(\d+)", pay_page).group(1))
    # Meanwhile the creator (having refunded them) decides access ends for good.
    enrollment = db.session.get(Enrollment, enrollment.id)
    enrollment.reason = AccessEvent.CREATOR_REVOKE
    db.session.commit()

    paid = web.submit(f"{pay_page}/pay", {}, form_url=pay_page)
    assert "refunded" in text_of(paid.get_data(as_text=True)).lower()
    db.session.expire_all()
    assert db.session.get(Order, order_id).status is OrderStatus.REFUNDED
    standing = sa.select(sa.func.count(Order.id)).where(
        Order.offering_id == offering.id, Order.status.in_((OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED))
    )
    assert db.session.scalar(standing) == 0
    assert db.session.get(Enrollment, enrollment.id).status is EnrollmentStatus.REVOKED


def test_a_revoked_learner_sees_why_and_no_buy_button_and_the_receipt_link_explains(web, client, offering):
    enrollment = bought(offering)
    roster = f"/studio/courses/{offering.id}/learners"
    post_confirmed(web, f"{roster}/{enrollment.id}/revoke", roster)
    web.logout()
    web.login("pat@example.org", PASSWORD)
    page = client.get("/courses/grounding").get_data(as_text=True)
    assert f"{offering.creator.display_name} ended your access on" in text_of(page)
    assert "Buy now" not in page and "Buy again" not in page
    # The receipt's "Start learning" link: a page that says what happened, not a bare 404.
    learn = client.get("/learn/grounding")
    assert learn.status_code == 403
    assert f"{offering.creator.display_name} ended your access on" in text_of(learn.get_data(as_text=True))


# ---------------------------------------------------------------------------
# 3. Seats and the waitlist agree
# ---------------------------------------------------------------------------


def test_a_new_date_in_a_full_workshop_spends_no_waitlist_notice(web, client, creator, mailbox):
    offering = OfferingFactory(creator=creator, slug="circle", kind=OfferingKind.LIVE_WORKSHOP, price_cents=4900)
    LessonFactory(section=SectionFactory(offering=offering))
    live_session(offering, days=7, capacity=2)
    for _ in range(2):
        EnrollmentFactory(offering=offering)
    db.session.commit()
    web.logout()
    web.submit("/courses/circle/waitlist", {"email": "wait@example.org"}, form_url="/courses/circle")
    web.login("maya@example.org", PASSWORD)
    mailbox.clear()

    sessions = f"/studio/courses/{offering.id}/sessions"
    added = web.submit(
        sessions,
        {"title": "Second evening", "starts_at": "2027-03-04T19:00", "duration_minutes": "90", "capacity": "5"},
    )
    assert "Session scheduled." in text_of(added.get_data(as_text=True))
    assert mailbox.messages == [], "the workshop is still full: nobody can take a seat"
    public = text_of(client.get("/courses/circle").get_data(as_text=True))
    assert "This workshop is full" in public and "seats left" not in public and "seat left" not in public


def test_the_waitlist_hears_once_a_seat_really_opens(web, client, creator, mailbox):
    offering = OfferingFactory(creator=creator, slug="circle", kind=OfferingKind.LIVE_WORKSHOP, price_cents=4900)
    LessonFactory(section=SectionFactory(offering=offering))
    live_session(offering, days=7, capacity=1)
    taken = bought(offering, "first@example.org")
    db.session.commit()
    web.logout()
    web.submit("/courses/circle/waitlist", {"email": "wait@example.org"}, form_url="/courses/circle")
    web.login("maya@example.org", PASSWORD)
    mailbox.clear()
    refund(web, offering, taken.order, "49.00")
    subjects = [message["Subject"] for message in mailbox.messages]
    assert "A seat opened in Grounding Skills" not in subjects
    assert [s for s in subjects if s.startswith("A seat opened")] == ["A seat opened in " + offering.title]
    assert "1 seat left" in text_of(client.get("/courses/circle").get_data(as_text=True))


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------


def test_every_event_in_every_state_is_either_a_move_no_change_or_refused_never_two():
    for state in AccessState:
        moves, unchanged = set(TRANSITIONS[state]), UNCHANGED[state]
        assert not moves & unchanged, state
        for event in AccessEvent:
            enrollment = _in_state(state)
            if event in moves:
                assert next_status(enrollment, event) is TRANSITIONS[state][event]
            elif event in unchanged:
                assert next_status(enrollment, event) is None
            else:
                with pytest.raises(AccessRefused):
                    next_status(enrollment, event)


def _in_state(state: AccessState) -> Enrollment | None:
    status, reason = {
        AccessState.NONE: (None, None),
        AccessState.ACTIVE: (EnrollmentStatus.ACTIVE, AccessEvent.PURCHASE),
        AccessState.PAUSED: (EnrollmentStatus.SUSPENDED, AccessEvent.DISPUTE_OPENED),
        AccessState.OVERDUE: (EnrollmentStatus.SUSPENDED, AccessEvent.PAYMENT_OVERDUE),
        AccessState.REFUNDED: (EnrollmentStatus.REVOKED, AccessEvent.REFUND),
        AccessState.CHARGED_BACK: (EnrollmentStatus.REVOKED, AccessEvent.DISPUTE_LOST),
        AccessState.ENDED_BY_CREATOR: (EnrollmentStatus.REVOKED, AccessEvent.CREATOR_REVOKE),
        AccessState.MEMBERSHIP_ENDED: (EnrollmentStatus.REVOKED, AccessEvent.MEMBERSHIP_ENDED),
    }[state]
    return None if status is None else Enrollment(status=status, reason=reason)


def test_the_readme_table_is_the_transition_table():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### Access states", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for line in section.splitlines():
        cells = [cell.strip(" `") for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in {s.value for s in AccessState}:
            documented[(cells[0], cells[1])] = cells[2]
    expected = {
        (state.value, event.value): status.value
        for state, moves in TRANSITIONS.items()
        for event, status in moves.items()
    }
    assert documented == expected
