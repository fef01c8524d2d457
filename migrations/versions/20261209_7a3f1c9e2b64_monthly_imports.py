"""Imported session income kept as monthly totals: a fourth source, import_month

Revision ID: 7a3f1c9e2b64
Revises: 5d2b8e4c1a90
Create Date: 2026-12-09 10:00:00.000000

"""

from alembic import op

revision = "7a3f1c9e2b64"
down_revision = "5d2b8e4c1a90"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("session_income", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_session_income_session_income_source"), type_="check")
        batch_op.create_check_constraint(
            "session_income_source", "source IN ('manual', 'monthly', 'import', 'import_month')"
        )


def downgrade():
    # Monthly totals from imports become imported lines dated the 1st, which the previous release knows.
    op.execute("UPDATE session_income SET source = 'import' WHERE source = 'import_month'")
    with op.batch_alter_table("session_income", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_session_income_session_income_source"), type_="check")
        batch_op.create_check_constraint("session_income_source", "source IN ('manual', 'monthly', 'import')")
