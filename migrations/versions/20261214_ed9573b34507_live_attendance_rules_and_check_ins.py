"""Live attendance rules: late and early allowance, check-in codes, and the sign-in sheet of join and leave times

Revision ID: ed9573b34507
Revises: 16edec6a4f97
Create Date: 2026-12-06 17:42:45.647101

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ed9573b34507'
down_revision = '16edec6a4f97'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('live_checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('live_session_id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_live_checkins_enrollment_id_enrollments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['live_session_id'], ['live_sessions.id'], name=op.f('fk_live_checkins_live_session_id_live_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_checkins')),
    sa.UniqueConstraint('live_session_id', 'enrollment_id', name='uq_live_checkins_session_enrollment')
    )
    with op.batch_alter_table('live_checkins', schema=None) as batch_op:
        batch_op.create_index('ix_live_checkins_enrollment_id', ['enrollment_id'], unique=False)

    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intervals', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('late_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('early_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('away_minutes', sa.Integer(), nullable=True))

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attendance_grace_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('checkin_required', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.create_check_constraint(
            'attendance_grace_minutes_range',
            'attendance_grace_minutes IS NULL OR (attendance_grace_minutes >= 0 AND attendance_grace_minutes <= 60)',
        )

    with op.batch_alter_table('live_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkin_code', sa.String(length=12), nullable=True))



def downgrade():
    with op.batch_alter_table('live_sessions', schema=None) as batch_op:
        batch_op.drop_column('checkin_code')

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_courses_attendance_grace_minutes_range'), type_='check')
        batch_op.drop_column('checkin_required')
        batch_op.drop_column('attendance_grace_minutes')

    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.drop_column('away_minutes')
        batch_op.drop_column('early_minutes')
        batch_op.drop_column('late_minutes')
        batch_op.drop_column('intervals')

    with op.batch_alter_table('live_checkins', schema=None) as batch_op:
        batch_op.drop_index('ix_live_checkins_enrollment_id')

    op.drop_table('live_checkins')
