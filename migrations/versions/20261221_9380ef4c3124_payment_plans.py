"""Payment plans: an offering sold in monthly instalments, each an order; access paused while one is overdue

Revision ID: 9380ef4c3124
Revises: 3f6a1d2c8e57
Create Date: 2026-12-07 01:51:13.032144

"""
from alembic import op
import sqlalchemy as sa

ACCESS_EVENTS = [
    'purchase', 'free', 'comp', 'import', 'restore', 'refund', 'refund_failed',
    'dispute_opened', 'dispute_won', 'dispute_lost', 'creator_revoke',
]
PLAN_EVENTS = ['payment_overdue', 'payment_recovered']


def _access_events(events):
    return 'reason IN (' + ', '.join(f"'{event}'" for event in events) + ')'


# revision identifiers, used by Alembic.
revision = '9380ef4c3124'
down_revision = '3f6a1d2c8e57'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payment_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.Enum('stripe', 'test', name='payment_provider', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('provider_subscription_id', sa.String(length=255), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('instalments', sa.Integer(), nullable=False),
    sa.Column('instalment_cents', sa.Integer(), nullable=False),
    sa.Column('paid_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('status', sa.Enum('pending', 'active', 'past_due', 'paused', 'completed', 'canceled', 'abandoned', name='plan_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('next_charge_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_failure', sa.String(length=255), nullable=True),
    sa.Column('ends_on_its_own', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('test_card_declines', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('instalment_cents >= 0', name=op.f('ck_payment_plans_instalment_cents_non_negative')),
    sa.CheckConstraint('instalments BETWEEN 2 AND 24', name=op.f('ck_payment_plans_plan_instalments_in_range')),
    sa.CheckConstraint('paid_count >= 0 AND paid_count <= instalments', name=op.f('ck_payment_plans_plan_paid_within_instalments')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_payment_plans_course_id_courses'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['learner_id'], ['users.id'], name=op.f('fk_payment_plans_learner_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_plans')),
    sa.UniqueConstraint('provider', 'provider_subscription_id', name='uq_payment_plans_provider_subscription')
    )
    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.create_index('ix_payment_plans_course_id', ['course_id'], unique=False)
        batch_op.create_index('ix_payment_plans_learner_id', ['learner_id'], unique=False)
        batch_op.create_index('ix_payment_plans_status_next_charge', ['status', 'next_charge_at'], unique=False)

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plan_instalments', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('plan_instalment_cents', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            'plan_both_or_neither',
            "(plan_instalments IS NULL AND plan_instalment_cents IS NULL) OR "
            "(plan_instalments BETWEEN 2 AND 24 AND plan_instalment_cents > 0)",
        )
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_enrollments_access_event'), type_='check')
        batch_op.create_check_constraint('access_event', _access_events(ACCESS_EVENTS + PLAN_EVENTS))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plan_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('instalment', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('provider_invoice_id', sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint('uq_orders_plan_instalment', ['plan_id', 'instalment'])
        batch_op.create_unique_constraint('uq_orders_provider_invoice_id', ['provider', 'provider_invoice_id'])
        batch_op.create_foreign_key(batch_op.f('fk_orders_plan_id_payment_plans'), 'payment_plans', ['plan_id'], ['id'], ondelete='RESTRICT')



def downgrade():
    # The release before plans knows no overdue pause: such access reads as a dispute's pause.
    op.execute(
        "UPDATE enrollments SET reason = 'dispute_opened' WHERE reason = 'payment_overdue'"
    )
    op.execute("UPDATE enrollments SET reason = 'purchase' WHERE reason = 'payment_recovered'")
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_enrollments_access_event'), type_='check')
        batch_op.create_check_constraint('access_event', _access_events(ACCESS_EVENTS))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_orders_plan_id_payment_plans'), type_='foreignkey')
        batch_op.drop_constraint('uq_orders_provider_invoice_id', type_='unique')
        batch_op.drop_constraint('uq_orders_plan_instalment', type_='unique')
        batch_op.drop_column('provider_invoice_id')
        batch_op.drop_column('instalment')
        batch_op.drop_column('plan_id')

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_courses_plan_both_or_neither'), type_='check')
        batch_op.drop_column('plan_instalment_cents')
        batch_op.drop_column('plan_instalments')

    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_plans_status_next_charge')
        batch_op.drop_index('ix_payment_plans_learner_id')
        batch_op.drop_index('ix_payment_plans_course_id')

    op.drop_table('payment_plans')
