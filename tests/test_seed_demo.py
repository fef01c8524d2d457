"""`flask seed-demo` builds a believable demo once, and changes nothing the second time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from courseplatform.bundles import bundle_problems
from courseplatform.demo.seed import LEARNER_EMAIL, THERAPIST_EMAIL, seed_demo
from courseplatform.extensions import db
from courseplatform.integrations.storage import get_storage
from courseplatform.models import (
    Coupon,
    Enrollment,
    LessonKind,
    LessonProgress,
    Offering,
    OfferingKind,
    OfferingStatus,
    Order,
    OrderStatus,
    SessionIncome,
    User,
    utcnow,
)
from courseplatform.models import Lesson as LessonModel


def row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def test_seed_demo_creates_the_demo_world_once(app, web, client):
    assert seed_demo() is True
    counts = row_counts()
    assert seed_demo() is False
    assert row_counts() == counts

    therapist = db.session.scalar(sa.select(User).filter_by(email=THERAPIST_EMAIL))
    learner = db.session.scalar(sa.select(User).filter_by(email=LEARNER_EMAIL))
    offerings = list(db.session.scalars(sa.select(Offering).filter_by(creator_id=therapist.creator_profile.id)))
    kinds = {c.kind for c in offerings if c.price_cents > 0 and c.status is OfferingStatus.PUBLISHED}
    assert kinds == {
        OfferingKind.COURSE,
        OfferingKind.RECORDED_WORKSHOP,
        OfferingKind.LIVE_WORKSHOP,
        OfferingKind.BUNDLE,
        OfferingKind.MEMBERSHIP,
    }
    assert any(c.is_free for c in offerings)
    assert all(c.sections and c.sections[0].lessons for c in offerings if not c.holds_offerings)
    (kit,) = [c for c in offerings if c.is_bundle]
    assert len(kit.bundle_offerings) == 2 and not bundle_problems(kit)
    (circle,) = [c for c in offerings if c.is_membership]
    assert [o.title for o in circle.bundle_offerings] == [
        "Case Consultation Group",
        "Working with Grief After Suicide Loss",
    ]
    assert not bundle_problems(circle) and len(circle.bundle_offerings[0].live_sessions) == 6
    codes = set(db.session.scalars(sa.select(Coupon.code).filter_by(creator_id=therapist.creator_profile.id)))
    assert codes == {"WELCOME20", "COLLEAGUE"}

    video = db.session.scalar(sa.select(LessonModel).where(LessonModel.kind == LessonKind.VIDEO))
    with get_storage().open(video.media_asset.storage_key) as stream:
        assert stream.read(12)[4:8] == b"ftyp", "the demo video is a real MP4 file"

    year_ago = utcnow() - timedelta(days=366)
    months = {
        (o.paid_at.year, o.paid_at.month)
        for o in db.session.scalars(sa.select(Order).where(Order.status == OrderStatus.PAID))
        if o.paid_at > year_ago
    }
    assert len(months) >= 12
    income_months = {(s.session_date.year, s.session_date.month) for s in db.session.scalars(sa.select(SessionIncome))}
    assert len(income_months) == 12

    enrollment = db.session.scalar(sa.select(Enrollment).filter_by(user_id=learner.id))
    assert enrollment is not None and enrollment.offering.price_cents > 0
    done = db.session.scalar(
        sa.select(sa.func.count(LessonProgress.id)).where(
            LessonProgress.enrollment_id == enrollment.id, LessonProgress.completed_at.is_not(None)
        )
    )
    assert done >= 1
    unbought = [c for c in offerings if c.price_cents > 0 and c.id != enrollment.offering_id]
    assert unbought

    web.login(LEARNER_EMAIL, "aqueduct-demo")
    html = client.get("/learn").get_data(as_text=True)
    assert enrollment.offering.title in html
    assert "2 of 6 lessons" in html


def test_demo_pages_show_the_demo_content(app, web, client):
    seed_demo()
    home = client.get("/").get_data(as_text=True)
    assert "Grounding Skills for Anxious Clients" in home
    assert "Burnout First Aid for Helpers" in client.get("/courses").get_data(as_text=True)
    offering = client.get("/courses/grounding-skills").get_data(as_text=True)
    assert "Dr. Maya Okafor" in offering and "3 CE hours" in offering and "Preview" in offering
    assert "Evening 1" in client.get("/courses/couples-in-crisis-live").get_data(as_text=True)
    assert "LCSW, PhD" in client.get("/t/maya-okafor").get_data(as_text=True)

    web.login(THERAPIST_EMAIL, "aqueduct-demo")
    studio = client.get("/studio").get_data(as_text=True)
    for title in ["Grounding Skills", "Grief After Suicide Loss", "Couples in Crisis", "Burnout First Aid"]:
        assert title in studio
    assert "Published" in studio


def test_cli_seed_demo_prints_the_accounts(app, runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "demo-therapist@aqueduct.test / aqueduct-demo" in result.output
    assert Path(app.config["MEDIA_ROOT"], "demo", "welcome.mp4").is_file()


def test_cli_seed_demo_refuses_to_run_in_production(app, runner, monkeypatch):
    """The demo accounts, an administrator among them, share a password printed in the README."""
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "does not run in production" in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_demo_sales_are_consistent(app):
    """No sale before the offering was published or the buyer existed; access matches each order."""
    seed_demo()
    orders = list(db.session.scalars(sa.select(Order)))
    assert orders
    for order in orders:
        assert order.paid_at >= order.offering.published_at, order
        assert order.paid_at >= order.learner.created_at, order
        assert order.amount_cents == order.processor_fee_cents + order.platform_fee_cents + order.net_cents
        enrollment = db.session.scalar(sa.select(Enrollment).filter_by(order_id=order.id))
        expected = "revoked" if order.status is OrderStatus.REFUNDED else "active"
        assert enrollment.status.value == expected, order


def test_seed_demo_works_beside_existing_topics_and_offerings(app):
    from courseplatform.models import Topic

    from .factories import OfferingFactory

    db.session.add(Topic(name="Anxiety", slug="anxiety"))
    OfferingFactory(slug="grounding-skills")
    db.session.flush()
    assert seed_demo() is True
    therapist = db.session.scalar(sa.select(User).filter_by(email=THERAPIST_EMAIL))
    slugs = set(db.session.scalars(sa.select(Offering.slug).filter_by(creator_id=therapist.creator_profile.id)))
    assert "grounding-skills-2" in slugs
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Topic).where(Topic.slug == "anxiety")) == 1


def test_the_demo_therapist_is_an_approved_provider_with_a_ce_course_that_meets_every_rule(app, client):
    from courseplatform.studio.offerings.ce_rules import ce_review

    seed_demo()
    db.session.commit()
    grounding = db.session.scalar(sa.select(Offering).where(Offering.slug == "grounding-skills"))
    assert [claim.body.label for claim in grounding.ce_claims] == ["ASWB ACE", "NBCC"]
    assert ce_review(grounding, utcnow().date()).problems == []
    page = client.get("/courses/grounding-skills").get_data(as_text=True)
    assert "Okafor Clinical Training, provider #DEMO-1473, is approved as an ACE provider" in page
    assert "approved by NBCC as an Approved Continuing Education Provider, ACEP No. DEMO-7021" in page
