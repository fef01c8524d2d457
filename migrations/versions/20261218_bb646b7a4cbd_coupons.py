"""Coupons: a creator's codes, and the orders that used them

Revision ID: bb646b7a4cbd
Revises: be57802dd081
Create Date: 2026-12-06 22:43:09.143842

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'bb646b7a4cbd'
down_revision = 'be57802dd081'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('coupons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('creator_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.Enum('percent', 'amount', name='coupon_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('percent_off', sa.SmallInteger(), nullable=True),
    sa.Column('amount_off_cents', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('all_offerings', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('max_redemptions', sa.Integer(), nullable=True),
    sa.Column('max_per_learner', sa.Integer(), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'percent' AND percent_off BETWEEN 1 AND 100 AND amount_off_cents IS NULL) OR (kind = 'amount' AND amount_off_cents > 0 AND currency IS NOT NULL AND percent_off IS NULL)", name=op.f('ck_coupons_coupon_discount_shape')),
    sa.CheckConstraint('max_per_learner IS NULL OR max_per_learner > 0', name=op.f('ck_coupons_max_per_learner_positive')),
    sa.CheckConstraint('max_redemptions IS NULL OR max_redemptions > 0', name=op.f('ck_coupons_max_redemptions_positive')),
    sa.ForeignKeyConstraint(['creator_id'], ['creator_profiles.id'], name=op.f('fk_coupons_creator_id_creator_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupons')),
    sa.UniqueConstraint('creator_id', 'code', name='uq_coupons_creator_code')
    )
    op.create_table('coupon_offerings',
    sa.Column('coupon_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_coupon_offerings_coupon_id_coupons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_coupon_offerings_course_id_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('coupon_id', 'course_id', name=op.f('pk_coupon_offerings'))
    )
    with op.batch_alter_table('coupon_offerings', schema=None) as batch_op:
        batch_op.create_index('ix_coupon_offerings_course_id', ['course_id'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coupon_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_orders_coupon_status', ['coupon_id', 'status'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_orders_coupon_id_coupons'), 'coupons', ['coupon_id'], ['id'], ondelete='RESTRICT')



def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_orders_coupon_id_coupons'), type_='foreignkey')
        batch_op.drop_index('ix_orders_coupon_status')
        batch_op.drop_column('coupon_id')

    with op.batch_alter_table('coupon_offerings', schema=None) as batch_op:
        batch_op.drop_index('ix_coupon_offerings_course_id')

    op.drop_table('coupon_offerings')
    op.drop_table('coupons')
