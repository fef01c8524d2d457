"""Client-facing offerings: an offering's audience, its not-therapy statement and crisis resources, lessons'
content notes, and the creator's country and licence

Revision ID: c41e7a9b2d60
Revises: 5d2b7e8c1a94
Create Date: 2026-12-07 05:25:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c41e7a9b2d60'
down_revision = '5d2b7e8c1a94'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sa.Enum('clinicians', 'public', name='offering_audience', native_enum=False, create_constraint=True, length=32), server_default='clinicians', nullable=False))
        batch_op.add_column(sa.Column('not_therapy_statement', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('crisis_resources', sa.Text(), server_default='', nullable=False))

    with op.batch_alter_table('lessons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_note', sa.String(length=200), server_default='', nullable=False))

    with op.batch_alter_table('creator_profiles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('country', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('licence', sa.String(length=200), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('creator_profiles', schema=None) as batch_op:
        batch_op.drop_column('licence')
        batch_op.drop_column('country')

    with op.batch_alter_table('lessons', schema=None) as batch_op:
        batch_op.drop_column('content_note')

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_courses_offering_audience'), type_='check')
        batch_op.drop_column('crisis_resources')
        batch_op.drop_column('not_therapy_statement')
        batch_op.drop_column('audience')
