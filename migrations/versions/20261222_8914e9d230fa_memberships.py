"""Memberships: an offering kind renewing monthly or yearly until canceled, kept as a payment plan without an end

Revision ID: 8914e9d230fa
Revises: 9380ef4c3124
Create Date: 2026-12-07 02:20:08.537892

"""
from alembic import op
import sqlalchemy as sa

KINDS = ['course', 'recorded_workshop', 'live_workshop', 'bundle']
ACCESS_EVENTS = [
    'purchase', 'free', 'comp', 'import', 'restore', 'refund', 'refund_failed',
    'dispute_opened', 'dispute_won', 'dispute_lost', 'creator_revoke', 'payment_overdue', 'payment_recovered',
]


def _listed(column, values):
    return f"{column} IN (" + ', '.join(f"'{value}'" for value in values) + ')'


# revision identifiers, used by Alembic.
revision = '8914e9d230fa'
down_revision = '9380ef4c3124'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billing_interval', sa.Enum('month', 'year', name='billing_interval', native_enum=False, create_constraint=True, length=32), nullable=True))

    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interval', sa.Enum('month', 'year', name='billing_interval', native_enum=False, create_constraint=True, length=32), server_default='month', nullable=False))
        batch_op.add_column(sa.Column('cancel_at_period_end', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.alter_column('instalments',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.drop_constraint(op.f('ck_payment_plans_plan_instalments_in_range'), type_='check')
        batch_op.drop_constraint(op.f('ck_payment_plans_plan_paid_within_instalments'), type_='check')
        batch_op.create_check_constraint(
            'plan_instalments_in_range', 'instalments IS NULL OR instalments BETWEEN 2 AND 24'
        )
        batch_op.create_check_constraint(
            'plan_paid_within_instalments', 'paid_count >= 0 AND (instalments IS NULL OR paid_count <= instalments)'
        )
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_courses_course_kind'), type_='check')
        batch_op.create_check_constraint('course_kind', _listed('kind', KINDS + ['membership']))
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_enrollments_access_event'), type_='check')
        batch_op.create_check_constraint('access_event', _listed('reason', ACCESS_EVENTS + ['membership_ended']))



def downgrade():
    # The release before memberships knows none: their access reads as the creator's revoke, and the
    # memberships themselves as archived bundles; their billing rows go.
    op.execute("UPDATE enrollments SET reason = 'creator_revoke' WHERE reason = 'membership_ended'")
    op.execute("UPDATE courses SET kind = 'bundle', status = 'archived' WHERE kind = 'membership'")
    op.execute("UPDATE orders SET plan_id = NULL, instalment = NULL WHERE plan_id IN "
               "(SELECT id FROM payment_plans WHERE instalments IS NULL)")
    op.execute("DELETE FROM payment_plans WHERE instalments IS NULL")
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_enrollments_access_event'), type_='check')
        batch_op.create_check_constraint('access_event', _listed('reason', ACCESS_EVENTS))
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_courses_course_kind'), type_='check')
        batch_op.create_check_constraint('course_kind', _listed('kind', KINDS))
    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_payment_plans_plan_instalments_in_range'), type_='check')
        batch_op.drop_constraint(op.f('ck_payment_plans_plan_paid_within_instalments'), type_='check')
        batch_op.alter_column('instalments',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.create_check_constraint('plan_instalments_in_range', 'instalments BETWEEN 2 AND 24')
        batch_op.create_check_constraint('plan_paid_within_instalments', 'paid_count >= 0 AND paid_count <= instalments')
        batch_op.drop_constraint(op.f('ck_payment_plans_billing_interval'), type_='check')
        batch_op.drop_column('cancel_at_period_end')
        batch_op.drop_column('interval')

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_courses_billing_interval'), type_='check')
        batch_op.drop_column('billing_interval')

