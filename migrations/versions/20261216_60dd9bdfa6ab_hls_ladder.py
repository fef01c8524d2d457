"""HLS ladder: the adaptive-streaming renditions made from each video, their state, rungs and bytes

Revision ID: 60dd9bdfa6ab
Revises: a19db6507a42
Create Date: 2026-12-06 18:33:43.949084

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '60dd9bdfa6ab'
down_revision = 'a19db6507a42'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ladder_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('ladder_error', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('ladder_heights', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('ladder_bytes', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('ladder_ready_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.drop_column('ladder_ready_at')
        batch_op.drop_column('ladder_bytes')
        batch_op.drop_column('ladder_heights')
        batch_op.drop_column('ladder_error')
        batch_op.drop_column('ladder_status')

