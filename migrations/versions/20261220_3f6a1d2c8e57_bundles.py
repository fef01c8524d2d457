"""Bundles: an offering kind that sells several of a creator's offerings together at one price

Revision ID: 3f6a1d2c8e57
Revises: 7c2e9b4a1f03
Create Date: 2026-12-06 23:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3f6a1d2c8e57'
down_revision = '7c2e9b4a1f03'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bundle_items',
    sa.Column('bundle_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.CheckConstraint('bundle_id <> item_id', name=op.f('ck_bundle_items_bundle_not_in_itself')),
    sa.ForeignKeyConstraint(['bundle_id'], ['courses.id'], name=op.f('fk_bundle_items_bundle_id_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['courses.id'], name=op.f('fk_bundle_items_item_id_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('bundle_id', 'item_id', name=op.f('pk_bundle_items'))
    )
    with op.batch_alter_table('bundle_items', schema=None) as batch_op:
        batch_op.create_index('ix_bundle_items_item_id', ['item_id'], unique=False)
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_courses_course_kind'), type_='check')
        batch_op.create_check_constraint(
            'course_kind', "kind IN ('course', 'recorded_workshop', 'live_workshop', 'bundle')"
        )


def downgrade():
    # A bundle can't be any other kind: the release before bundles keeps them as archived courses.
    op.execute("UPDATE courses SET kind = 'course', status = 'archived' WHERE kind = 'bundle'")
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_courses_course_kind'), type_='check')
        batch_op.create_check_constraint('course_kind', "kind IN ('course', 'recorded_workshop', 'live_workshop')")
    with op.batch_alter_table('bundle_items', schema=None) as batch_op:
        batch_op.drop_index('ix_bundle_items_item_id')
    op.drop_table('bundle_items')
