"""roster and revenue indexes, the platform's accounts as a running total

Enrollments by (offering, status, date) in place of (offering, status); orders by (offering, payment date).

Revision ID: 7c41d2e8a9b3
Revises: 3a9c5e1f7b20
Create Date: 2026-12-07 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c41d2e8a9b3'
down_revision = '3a9c5e1f7b20'
branch_labels = None
depends_on = None


# As courseplatform/stats.py's recount, written out so this revision keeps meaning what it meant.
FILL = """
    INSERT INTO platform_stats (id, accounts, suspended_accounts)
    SELECT 1, COUNT(id), COALESCE(SUM(CASE WHEN suspended_at IS NOT NULL THEN 1 ELSE 0 END), 0) FROM users
"""


def upgrade():
    op.create_table('platform_stats',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('accounts', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('suspended_accounts', sa.BigInteger(), server_default='0', nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_platform_stats_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_stats'))
    )
    op.execute(FILL)

    # (course_id, status, enrolled_at, id) serves everything (course_id, status) did, and the roster
    # filtered by status reads its page off it.
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.create_index(
            'ix_enrollments_course_status_enrolled_at', ['course_id', 'status', 'enrolled_at', 'id'], unique=False
        )
        batch_op.drop_index('ix_enrollments_course_status')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_course_paid_at', ['course_id', 'paid_at'], unique=False)


def downgrade():
    op.drop_table('platform_stats')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_course_paid_at')

    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.create_index('ix_enrollments_course_status', ['course_id', 'status'], unique=False)
        batch_op.drop_index('ix_enrollments_course_status_enrolled_at')
