"""Media probe: what an uploaded video or audio file really is (container, codecs, size as shown), read from it

Revision ID: a19db6507a42
Revises: ed9573b34507
Create Date: 2026-12-06 18:26:57.340921

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a19db6507a42'
down_revision = 'ed9573b34507'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('probed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('media_container', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('video_codec', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('audio_codec', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('width', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('height', sa.Integer(), nullable=True))



def downgrade():
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.drop_column('height')
        batch_op.drop_column('width')
        batch_op.drop_column('audio_codec')
        batch_op.drop_column('video_codec')
        batch_op.drop_column('media_container')
        batch_op.drop_column('probed_at')

