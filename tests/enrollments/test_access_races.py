"""Two requests at once on PostgreSQL with real commits: the last seat of a workshop goes to one of them.

The rest of the suite runs each test inside a rolled-back transaction, which would hide
the race; here an application on its own database is served by a threaded HTTP server.
(These tests must not use the `app` fixture.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from courseplatform.checkout.services import begin_checkout, refund_order
from courseplatform.enrollments.seats import seats
from courseplatform.extensions import db
from courseplatform.learning.certificates import issue_certificate
from courseplatform.models import (
    AccessEvent,
    Certificate,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    Offering,
    OfferingKind,
    Order,
    OrderStatus,
    User,
    utcnow,
)

from ..factories import (
    PASSWORD,
    CreatorProfileFactory,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    OrderFactory,
    SectionFactory,
    UserFactory,
)
from ..factories.live import live_session
from ..helpers import committed_application, csrf_token_from
from ..markup import text_of

# How long the checkout (or refund) keeps the workshop locked: a grant that doesn't wait for it is done by then.
HOLD_SECONDS = 1.0


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple]:
    """An application whose requests really commit, served over HTTP; (app, base URL)."""
    with committed_application(tmp_path_factory, "seats") as app:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        yield app, f"http://127.0.0.1:{server.server_port}"
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def workshop_with_one_seat(app, email: str, *, ended_learner: bool = False) -> tuple[int, int | None]:
    """A committed one-seat workshop by `email`; (course id, id of a learner whose access the creator ended)."""
    with app.app_context():
        creator = CreatorProfileFactory(user__email=email)
        offering = OfferingFactory(creator=creator, kind=OfferingKind.LIVE_WORKSHOP, price_cents=4900)
        LessonFactory(section=SectionFactory(offering=offering))
        live_session(offering, days=7, capacity=1)
        ended = None
        if ended_learner:
            ended = EnrollmentFactory(offering=offering, status=EnrollmentStatus.REVOKED)
        db.session.commit()
        ids = offering.id, ended.id if ended else None
        db.session.remove()
        return ids


def logged_in(base: str, email: str) -> requests.Session:
    browser = requests.Session()
    token = csrf_token_from(browser.get(f"{base}/login", timeout=10).text)
    answer = browser.post(
        f"{base}/login", data={"csrf_token": token, "email": email, "password": PASSWORD}, allow_redirects=False
    )
    assert answer.status_code == 302, "login failed"
    return browser


def while_a_checkout_sells_the_last_seat(app, offering_id: int, studio_post) -> str:
    """Begin a checkout (the workshop locked, its seat held, not yet committed), run `studio_post`
    in another thread meanwhile, then commit the checkout; the studio page's text."""
    answers: list[str] = []
    with app.test_request_context():
        buyer = UserFactory()
        db.session.commit()
        begin_checkout(buyer, db.session.get(Offering, offering_id), 4900)
        thread = threading.Thread(target=lambda: answers.append(studio_post()))
        thread.start()
        time.sleep(HOLD_SECONDS)
        db.session.commit()
        db.session.remove()
    thread.join(timeout=30)
    return answers[0]


def seats_of(app, offering_id: int):
    with app.app_context():
        found = seats(db.session.get(Offering, offering_id))
        db.session.remove()
        return found


def test_a_complimentary_grant_during_a_checkout_for_the_last_seat_does_not_overfill(live):
    app, base = live
    offering_id, _ = workshop_with_one_seat(app, "grant-race@example.org")
    creator = logged_in(base, "grant-race@example.org")
    roster = f"{base}/studio/courses/{offering_id}/learners"
    token = csrf_token_from(creator.get(roster, timeout=10).text)

    def grant() -> str:
        data = {"csrf_token": token, "email": "guest@example.org", "name": "Guest"}
        return text_of(creator.post(f"{roster}/grant", data=data, timeout=30).text)

    page = while_a_checkout_sells_the_last_seat(app, offering_id, grant)

    found = seats_of(app, offering_id)
    assert found.taken <= found.capacity, f"{found.taken} seats taken of {found.capacity}"
    assert "is full: every seat is taken" in page


def test_restoring_a_learner_during_a_checkout_for_the_last_seat_does_not_overfill(live):
    app, base = live
    offering_id, enrollment_id = workshop_with_one_seat(app, "restore-race@example.org", ended_learner=True)
    creator = logged_in(base, "restore-race@example.org")
    roster = f"{base}/studio/courses/{offering_id}/learners"
    token = csrf_token_from(creator.get(roster, timeout=10).text)

    def restore() -> str:
        url = f"{roster}/{enrollment_id}/restore"
        return text_of(creator.post(url, data={"csrf_token": token}, timeout=30).text)

    page = while_a_checkout_sells_the_last_seat(app, offering_id, restore)

    found = seats_of(app, offering_id)
    assert found.taken <= found.capacity, f"{found.taken} seats taken of {found.capacity}"
    assert "is full: every seat is taken" in page
    with app.app_context():
        status = db.session.scalar(sa.select(Enrollment.status).where(Enrollment.id == enrollment_id))
        db.session.remove()
    assert status is EnrollmentStatus.REVOKED


def restored_learner_with_a_revoked_certificate(app, email: str) -> tuple[int, int, int]:
    """A committed learner whose access the creator restored after it ended: their paid order still
    stands and their certificate is still revoked; (course id, enrollment id, order id)."""
    with app.test_request_context():
        creator = CreatorProfileFactory(user__email=email)
        offering = OfferingFactory(creator=creator, price_cents=4900)
        LessonFactory(section=SectionFactory(offering=offering))
        learner = UserFactory()
        order = OrderFactory(
            learner=learner, offering=offering, payment_intent_id=f"pi_{email}", platform_fee_cents=490, net_cents=4410
        )
        enrollment = EnrollmentFactory(
            user=learner, offering=offering, source=EnrollmentSource.PURCHASE, order=order, reason=AccessEvent.RESTORE
        )
        enrollment.completed_at = utcnow()
        db.session.flush()
        issue_certificate(enrollment).revoked_at = utcnow()
        db.session.commit()
        ids = offering.id, enrollment.id, order.id
        db.session.remove()
        return ids


def test_a_reissue_while_a_full_refund_ends_access_leaves_the_certificate_revoked(live):
    app, base = live
    email = "reissue-race@example.org"
    offering_id, enrollment_id, order_id = restored_learner_with_a_revoked_certificate(app, email)
    creator = logged_in(base, email)
    learner_page = f"{base}/studio/courses/{offering_id}/learners/{enrollment_id}"
    token = csrf_token_from(creator.get(learner_page, timeout=10).text)
    answers: list[str] = []

    def reissue() -> None:
        answer = creator.post(f"{learner_page}/certificate/reissue", data={"csrf_token": token}, timeout=30)
        answers.append(text_of(answer.text))

    # The full refund (its enrollment locked, access ended, not yet committed) meets the creator's Reissue.
    with app.test_request_context():
        by = db.session.scalar(sa.select(User).where(User.email == email))
        refund_order(db.session.get(Order, order_id), 4900, by=by)
        thread = threading.Thread(target=reissue)
        thread.start()
        time.sleep(HOLD_SECONDS)
        db.session.commit()
        db.session.remove()
    thread.join(timeout=30)

    with app.app_context():
        enrollment = db.session.get(Enrollment, enrollment_id)
        certificate = db.session.scalar(sa.select(Certificate).where(Certificate.enrollment_id == enrollment_id))
        state = enrollment.status, db.session.get(Order, order_id).status, certificate.revoked_at is not None
        db.session.remove()
    assert state == (EnrollmentStatus.REVOKED, OrderStatus.REFUNDED, True)
    assert "Restore their access first" in answers[0]
