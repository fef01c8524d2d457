"""Session income lines of four kinds: sessions, missed-appointment fees, refunds and adjustments, add-ons

Revision ID: 5d2b8e4c1a90
Revises: c0e427ea857d
Create Date: 2026-12-08 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "5d2b8e4c1a90"
down_revision = "c0e427ea857d"
branch_labels = None
depends_on = None

COUNTS = "(kind = 'session' AND sessions > 0 AND minutes_each > 0) OR (kind <> 'session' AND sessions = 0 AND minutes_each = 0)"


def upgrade():
    with op.batch_alter_table("session_income", schema=None) as batch_op:
        # A plain column first: SQLite copies the table to add a CHECK, and the copy must already have it.
        batch_op.add_column(sa.Column("kind", sa.String(length=32), server_default="session", nullable=False))
    with op.batch_alter_table("session_income", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_session_income_amount_cents_non_negative"), type_="check")
        batch_op.drop_constraint(op.f("ck_session_income_sessions_positive"), type_="check")
        batch_op.drop_constraint(op.f("ck_session_income_minutes_positive"), type_="check")
        batch_op.create_check_constraint("session_income_kind", "kind IN ('session', 'missed', 'adjustment', 'addon')")
        batch_op.create_check_constraint("amount_sign", "amount_cents >= 0 OR kind = 'adjustment'")
        batch_op.create_check_constraint("counts_match_kind", COUNTS)


def downgrade():
    op.execute("DELETE FROM session_income WHERE kind <> 'session'")
    with op.batch_alter_table("session_income", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_session_income_counts_match_kind"), type_="check")
        batch_op.drop_constraint(op.f("ck_session_income_amount_sign"), type_="check")
        batch_op.drop_constraint(op.f("ck_session_income_session_income_kind"), type_="check")
        batch_op.create_check_constraint("minutes_positive", "minutes_each > 0")
        batch_op.create_check_constraint("sessions_positive", "sessions > 0")
        batch_op.create_check_constraint("amount_cents_non_negative", "amount_cents >= 0")
        batch_op.drop_column("kind")
