"""running totals: learners and sales per offering, learners per creator, filled from the rows

Revision ID: 3a9c5e1f7b20
Revises: fe02058a7ee7
Create Date: 2026-12-07 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3a9c5e1f7b20'
down_revision = 'fe02058a7ee7'
branch_labels = None
depends_on = None


SETTLED = "('paid', 'partially_refunded', 'refunded', 'disputed')"

# The same definitions as courseplatform/stats.py's recounts, written out so this revision
# keeps meaning what it meant when the application's code moves on.
FILL = [
    """
    INSERT INTO offering_stats (course_id, active, suspended, revoked, completed)
    SELECT course_id,
           SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END),
           SUM(CASE WHEN status = 'suspended' THEN 1 ELSE 0 END),
           SUM(CASE WHEN status = 'revoked' THEN 1 ELSE 0 END),
           SUM(CASE WHEN status = 'active' AND completed_at IS NOT NULL THEN 1 ELSE 0 END)
    FROM enrollments GROUP BY course_id
    """,
    f"""
    INSERT INTO offering_sales (course_id, currency, orders, gross_cents, refunded_cents, net_cents,
                                platform_fee_cents, platform_fee_returned_cents)
    SELECT o.course_id, o.currency, COUNT(o.id), SUM(o.amount_cents), SUM(COALESCE(r.amount_cents, 0)),
           SUM(o.amount_cents - o.processor_fee_cents - o.platform_fee_cents - COALESCE(r.net_cents, 0)),
           SUM(o.platform_fee_cents), SUM(COALESCE(r.platform_fee_cents, 0))
    FROM orders o
    LEFT JOIN (
        SELECT order_id, SUM(amount_cents) AS amount_cents,
               SUM(platform_fee_refunded_cents) AS platform_fee_cents,
               SUM(amount_cents - platform_fee_refunded_cents) AS net_cents
        FROM refunds WHERE status = 'succeeded' GROUP BY order_id
    ) r ON r.order_id = o.id
    WHERE o.status IN {SETTLED}
    GROUP BY o.course_id, o.currency
    """,
    """
    INSERT INTO creator_learners (creator_id, user_id, offerings)
    SELECT c.creator_id, e.user_id, COUNT(e.id)
    FROM enrollments e JOIN courses c ON c.id = e.course_id
    WHERE e.status = 'active' GROUP BY c.creator_id, e.user_id
    """,
    """
    INSERT INTO creator_stats (creator_id, learners)
    SELECT creator_id, COUNT(*) FROM creator_learners GROUP BY creator_id
    """,
]


def upgrade():
    op.create_table('offering_stats',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('suspended', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('revoked', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('completed', sa.BigInteger(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_offering_stats_course_id_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', name=op.f('pk_offering_stats'))
    )
    op.create_table('offering_sales',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('orders', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('gross_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('refunded_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('net_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('platform_fee_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('platform_fee_returned_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_offering_sales_course_id_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'currency', name=op.f('pk_offering_sales'))
    )
    op.create_table('creator_learners',
    sa.Column('creator_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('offerings', sa.BigInteger(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['creator_profiles.id'], name=op.f('fk_creator_learners_creator_id_creator_profiles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_creator_learners_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('creator_id', 'user_id', name=op.f('pk_creator_learners'))
    )
    op.create_table('creator_stats',
    sa.Column('creator_id', sa.Integer(), nullable=False),
    sa.Column('learners', sa.BigInteger(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['creator_profiles.id'], name=op.f('fk_creator_stats_creator_id_creator_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('creator_id', name=op.f('pk_creator_stats'))
    )
    for statement in FILL:
        op.execute(statement)


def downgrade():
    op.drop_table('creator_stats')
    op.drop_table('creator_learners')
    op.drop_table('offering_sales')
    op.drop_table('offering_stats')
