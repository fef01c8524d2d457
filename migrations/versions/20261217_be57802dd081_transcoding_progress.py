"""Transcoding progress: how far a video's streaming versions have got while they are made

Revision ID: be57802dd081
Revises: 60dd9bdfa6ab
Create Date: 2026-12-06 19:57:18.792125

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'be57802dd081'
down_revision = '60dd9bdfa6ab'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ladder_percent', sa.SmallInteger(), nullable=True))
    # SQLite's batch mode rebuilds the table: the check goes on in a second batch, once the column exists.
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.create_check_constraint('ladder_percent_range', 'ladder_percent BETWEEN 0 AND 100')


def downgrade():
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.drop_constraint('ladder_percent_range', type_='check')
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.drop_column('ladder_percent')
