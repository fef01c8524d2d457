"""refund status and lost-access flag; order discount, pending refunds and the fee as settled

Revision ID: 5b7e2c9d41a3
Revises: 5b1e0a7c9d42
Create Date: 2026-12-06 01:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b7e2c9d41a3'
down_revision = '5b1e0a7c9d42'
branch_labels = None
depends_on = None


def upgrade():
    # Every refund recorded so far was booked as done: it stays succeeded.
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=32), server_default='succeeded', nullable=False))
        batch_op.add_column(sa.Column('ended_access', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_check_constraint(
            'refund_status', "status IN ('pending', 'succeeded', 'failed', 'canceled')"
        )

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('discount_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('settlement_currency', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('processor_fee_settled_cents', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('refund_pending_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint('discount_cents_non_negative', 'discount_cents >= 0')
        batch_op.create_check_constraint('processor_fee_settled_cents_non_negative', 'processor_fee_settled_cents >= 0')
        batch_op.create_check_constraint('refund_pending_cents_non_negative', 'refund_pending_cents >= 0')


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_orders_refund_pending_cents_non_negative'), type_='check')
        batch_op.drop_constraint(op.f('ck_orders_processor_fee_settled_cents_non_negative'), type_='check')
        batch_op.drop_constraint(op.f('ck_orders_discount_cents_non_negative'), type_='check')
        batch_op.drop_column('refund_pending_cents')
        batch_op.drop_column('processor_fee_settled_cents')
        batch_op.drop_column('settlement_currency')
        batch_op.drop_column('discount_cents')

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_refunds_refund_status'), type_='check')
        batch_op.drop_column('ended_access')
        batch_op.drop_column('status')
