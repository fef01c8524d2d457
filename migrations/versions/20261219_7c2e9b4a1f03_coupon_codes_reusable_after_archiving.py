"""Coupon codes unique among a creator's active coupons, so an archived code can be made again

Revision ID: 7c2e9b4a1f03
Revises: bb646b7a4cbd
Create Date: 2026-12-06 23:35:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c2e9b4a1f03'
down_revision = 'bb646b7a4cbd'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_constraint('uq_coupons_creator_code', type_='unique')
        batch_op.create_index(
            'uq_coupons_creator_code_active',
            ['creator_id', 'code'],
            unique=True,
            postgresql_where=sa.text('archived_at IS NULL'),
            sqlite_where=sa.text('archived_at IS NULL'),
        )


def downgrade():
    # The release before keeps one coupon per code: the later of two with the same code gets a suffix.
    op.execute(
        "UPDATE coupons SET code = substr(code, 1, 24) || '-' || id "
        "WHERE EXISTS (SELECT 1 FROM coupons AS other WHERE other.creator_id = coupons.creator_id "
        "AND other.code = coupons.code AND other.id < coupons.id)"
    )
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index('uq_coupons_creator_code_active')
        batch_op.create_unique_constraint('uq_coupons_creator_code', ['creator_id', 'code'])
