"""Stripe Tax: the tax inside an order and each refund's share of it, the platform fee given back on tax, a
business buyer's tax id, a plan's tax per payment, and the creator's tax settings (active at Stripe; prices including tax or not)

Revision ID: 5d2b7e8c1a94
Revises: 8914e9d230fa
Create Date: 2026-12-07 04:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d2b7e8c1a94'
down_revision = '8914e9d230fa'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('tax_included', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('buyer_tax_id_type', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('buyer_tax_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('fee_returned_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint('tax_cents_non_negative', 'tax_cents >= 0')
        batch_op.create_check_constraint('fee_returned_cents_non_negative', 'fee_returned_cents >= 0')
        batch_op.create_check_constraint('tax_within_amount', 'tax_cents <= amount_cents')

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint('tax_cents_non_negative', 'tax_cents >= 0')

    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('tax_included', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_check_constraint('tax_cents_non_negative', 'tax_cents >= 0')

    with op.batch_alter_table('creator_profiles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_tax_active', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('prices_include_tax', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('creator_profiles', schema=None) as batch_op:
        batch_op.drop_column('prices_include_tax')
        batch_op.drop_column('stripe_tax_active')

    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_payment_plans_tax_cents_non_negative'), type_='check')
        batch_op.drop_column('tax_included')
        batch_op.drop_column('tax_cents')

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_refunds_tax_cents_non_negative'), type_='check')
        batch_op.drop_column('tax_cents')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_orders_tax_within_amount'), type_='check')
        batch_op.drop_constraint(op.f('ck_orders_tax_cents_non_negative'), type_='check')
        batch_op.drop_constraint(op.f('ck_orders_fee_returned_cents_non_negative'), type_='check')
        batch_op.drop_column('fee_returned_cents')
        batch_op.drop_column('buyer_tax_id')
        batch_op.drop_column('buyer_tax_id_type')
        batch_op.drop_column('tax_included')
        batch_op.drop_column('tax_cents')
