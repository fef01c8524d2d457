"""The checked-in Alembic revisions build exactly the schema the models describe."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from courseplatform import create_app
from courseplatform.extensions import db

from .conftest import databases


def _differences(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
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

    from .factories import CourseFactory, EnrollmentFactory, UserFactory

    learner = UserFactory()
    course = CourseFactory()
    EnrollmentFactory(user=learner, course=course)

    cases = [
        Enrollment(user=learner, course=course, source=EnrollmentSource.COMP),
        Order(
            learner=learner,
            course=course,
            amount_cents=-1,
            currency="USD",
            provider=PaymentProvider.TEST,
            status=OrderStatus.PENDING,
        ),
        Order(
            learner=learner,
            course=course,
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
            {"l": learner.id, "c": course.id},
        )

    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(sa.text("UPDATE users SET email = 'UPPER@EXAMPLE.ORG' WHERE id = :id"), {"id": learner.id})


def test_order_state_machine_refuses_resurrection():
    from courseplatform.models import InvalidTransition, Order, OrderStatus

    order = Order(status=OrderStatus.PENDING)
    order.transition_to(OrderStatus.PAID)
    order.transition_to(OrderStatus.PARTIALLY_REFUNDED)
    order.transition_to(OrderStatus.REFUNDED)
    with pytest.raises(InvalidTransition):
        order.transition_to(OrderStatus.PAID)
    assert order.status is OrderStatus.REFUNDED
    order.transition_to(OrderStatus.REFUNDED)  # staying put is not an error


def test_a_late_payment_can_still_be_recorded():
    from courseplatform.models import Order, OrderStatus

    for gave_up in (OrderStatus.EXPIRED, OrderStatus.FAILED):
        order = Order(status=gave_up)
        order.transition_to(OrderStatus.PAID)
        assert order.status is OrderStatus.PAID
