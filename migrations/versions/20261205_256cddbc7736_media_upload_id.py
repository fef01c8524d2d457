"""media: the multipart upload id is recorded on the asset, not trusted from the browser

Revision ID: 256cddbc7736
Revises: d2e005d05179
Create Date: 2026-12-05 23:02:15.847564

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '256cddbc7736'
down_revision = 'd2e005d05179'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upload_id', sa.String(length=1024), nullable=True))


def downgrade():
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.drop_column('upload_id')
