"""The checked-in Alembic revisions build exactly the schema the models describe."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from courseplatform import create_app
from courseplatform.extensions import db
from courseplatform.models.base import exists_on

from .helpers import databases


def _differences(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": exists_on(engine.dialect.name)}
        )
        differences = compare_metadata(context, db.metadata)
    if engine.dialect.name == "postgresql":
        # Autogenerate doesn't compare CHECK constraints; a rule only the models know protects nothing.
        inspector = sa.inspect(engine)
        built = {
            (table, check["name"])
            for table in inspector.get_table_names()
            for check in inspector.get_check_constraints(table)
        }
        declared = {
            (table.name, check.name if check.name.startswith("ck_") else f"ck_{table.name}_{check.name}")
            for table in db.metadata.sorted_tables
            for check in table.constraints
            if isinstance(check, sa.CheckConstraint)
        }
        differences += [("check constraint missing", name) for name in sorted(declared - built)]
        differences += [("check constraint not in the models", name) for name in sorted(built - declared)]
    return differences


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_migrations_build_exactly_the_models(kind, tmp_path_factory):
    dbs = databases(tmp_path_factory)
    if kind == "postgresql" and dbs.kind != "postgresql":
        pytest.skip("no PostgreSQL server answered")
    url = dbs.new("migrations", kind=kind)
    migrated = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x" * 32})
    with migrated.app_context():
        upgrade()
        assert _differences(db.engine) == []

        downgrade(revision="base")
        remaining = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()

        upgrade()
        assert _differences(db.engine) == []
        db.engine.dispose()


def test_constraints_protect_the_invariants(app):
    """Database rules hold even if application code forgets them."""
    from sqlalchemy.exc import IntegrityError

    from courseplatform.models import Enrollment, EnrollmentSource, Order, OrderStatus, PaymentProvider, ProviderEvent

    from .factories import EnrollmentFactory, OfferingFactory, UserFactory

    learner = UserFactory()
    offering = OfferingFactory()
    EnrollmentFactory(user=learner, offering=offering)

    cases = [
        Enrollment(user=learner, offering=offering, source=EnrollmentSource.COMP),
        Order(
            learner=learner,
            offering=offering,
            amount_cents=-1,
            currency="USD",
            provider=PaymentProvider.TEST,
            status=OrderStatus.PENDING,
        ),
        Order(
            learner=learner,
            offering=offering,
            amount_cents=100,
            refunded_cents=200,
            currency="USD",
            provider=PaymentProvider.TEST,
            status=OrderStatus.PENDING,
        ),
    ]
    for row in cases:
        with pytest.raises(IntegrityError), db.session.begin_nested():
            db.session.add(row)

    db.session.add(ProviderEvent(provider=PaymentProvider.STRIPE, event_id="evt_1", type="x"))
    db.session.flush()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(ProviderEvent(provider=PaymentProvider.STRIPE, event_id="evt_1", type="x"))

    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(
            sa.text(
                "INSERT INTO orders (learner_id, course_id, amount_cents, currency, provider, status, "
                "processor_fee_cents, processor_fee_estimated, platform_fee_cents, net_cents, refunded_cents, "
                "created_at, updated_at) VALUES (:l, :c, 100, 'USD', 'test', 'stolen', 0, false, 0, 0, 0, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"l": learner.id, "c": offering.id},
        )

    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(sa.text("UPDATE users SET email = 'UPPER@EXAMPLE.ORG' WHERE id = :id"), {"id": learner.id})


def test_order_state_machine_refuses_resurrection():
    from courseplatform.models import InvalidTransition, Order, OrderStatus

    order = Order(status=OrderStatus.PENDING)
    order.transition_to(OrderStatus.PAID)
    order.transition_to(OrderStatus.PARTIALLY_REFUNDED)
    order.transition_to(OrderStatus.REFUNDED)
    for never in (OrderStatus.PENDING, OrderStatus.DISPUTED, OrderStatus.FAILED, OrderStatus.EXPIRED):
        with pytest.raises(InvalidTransition):
            order.transition_to(never)
    assert order.status is OrderStatus.REFUNDED
    order.transition_to(OrderStatus.REFUNDED)  # staying put is not an error
    # A refund that fails after it succeeded (the card was closed) gives the payment back;
    # a late payment event never does (fulfil_order leaves a settled order alone).
    order.transition_to(OrderStatus.PAID)


def test_a_late_payment_can_still_be_recorded():
    from courseplatform.models import Order, OrderStatus

    for gave_up in (OrderStatus.EXPIRED, OrderStatus.FAILED):
        order = Order(status=gave_up)
        order.transition_to(OrderStatus.PAID)
        assert order.status is OrderStatus.PAID


MARKDOWN_HTML_REVISION = "39b7f71d4617"


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_upgrading_renders_the_markdown_saved_before_html_was_stored(kind, tmp_path_factory):
    from alembic.script import ScriptDirectory

    from courseplatform.markdown_render import render_markdown

    dbs = databases(tmp_path_factory)
    if kind == "postgresql" and dbs.kind != "postgresql":
        pytest.skip("no PostgreSQL server answered")
    migrated = create_app({"SQLALCHEMY_DATABASE_URI": dbs.new("backfill", kind=kind), "SECRET_KEY": "x" * 32})
    before = ScriptDirectory(migrated.extensions["migrate"].directory).get_revision(MARKDOWN_HTML_REVISION)
    with migrated.app_context():
        upgrade(revision=before.down_revision)
        old_rows = {
            "users": [{"id": 1, "email": "maya@example.org", "name": "Maya", "password_hash": "x"}],
            "creator_profiles": [{"id": 1, "user_id": 1, "slug": "maya", "display_name": "Maya", "bio": "I *listen*."}],
            "courses": [
                {"id": 1, "creator_id": 1, "kind": "course", "title": "T", "slug": "t", "status": "published"}
                | {"description": "[click](javascript:alert(1)) <b>raw</b>", "updated_at": sa.func.now()}
            ],
            "sections": [{"id": 1, "course_id": 1, "title": "S", "position": 0}],
            # More lessons than one batch holds, so the backfill pages through them.
            "lessons": [
                {"id": n, "section_id": 1, "title": f"L{n}", "kind": "text", "position": n, "body": f"Lesson **{n}**"}
                for n in range(1, 451)
            ],
            "quiz_questions": [
                {"id": 1, "lesson_id": 1, "prompt": "Why?", "explanation": "Because `now`.", "position": 0}
            ],
        }
        with db.engine.begin() as connection:
            for name, rows in old_rows.items():
                table = sa.Table(name, sa.MetaData(), autoload_with=connection)
                stamped = [{"created_at": sa.func.now()} | row for row in rows] if "created_at" in table.c else rows
                for row in stamped:
                    connection.execute(table.insert().values(row))

        upgrade()

        with db.engine.connect() as connection:
            stored = {
                "bio": connection.scalar(sa.text("SELECT bio_html FROM creator_profiles")),
                "description": connection.scalar(sa.text("SELECT description_html FROM courses")),
                "explanation": connection.scalar(sa.text("SELECT explanation_html FROM quiz_questions")),
            }
            lessons = connection.execute(sa.text("SELECT body, body_html FROM lessons ORDER BY id")).all()
        db.engine.dispose()

    assert stored == {
        "bio": "<p>I <em>listen</em>.</p>\n",
        "description": "<p>[click](javascript:alert(1)) &lt;b&gt;raw&lt;/b&gt;</p>\n",
        "explanation": "<p>Because <code>now</code>.</p>\n",
    }
    assert len(lessons) == 450
    assert all(html == render_markdown(body) for body, html in lessons)
    assert lessons[-1].body_html == "<p>Lesson <strong>450</strong></p>\n"
