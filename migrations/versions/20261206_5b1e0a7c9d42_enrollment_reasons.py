"""enrollments: the reason for each access state; certificates: revoked and reissued explicitly

Revision ID: 5b1e0a7c9d42
Revises: 39b7f71d4617
Create Date: 2026-12-06 01:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b1e0a7c9d42'
down_revision = '39b7f71d4617'
branch_labels = None
depends_on = None

ACCESS_EVENTS = (
    'purchase', 'free', 'comp', 'import', 'restore', 'refund', 'refund_failed',
    'dispute_opened', 'dispute_won', 'dispute_lost', 'creator_revoke',
)


def upgrade():
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=32), nullable=True))
    # Active access keeps the way it was given; a pause is a dispute; an end with the money
    # returned is a refund (or a lost dispute, booked as one), any other end the creator's.
    op.execute("UPDATE enrollments SET reason = source WHERE status = 'active'")
    op.execute("UPDATE enrollments SET reason = 'dispute_opened' WHERE status = 'suspended'")
    op.execute(
        "UPDATE enrollments SET reason = CASE WHEN EXISTS ("
        " SELECT 1 FROM orders WHERE orders.id = enrollments.order_id AND orders.status = 'refunded'"
        ") THEN 'refund' ELSE 'creator_revoke' END WHERE status = 'revoked'"
    )
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.alter_column('reason', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_check_constraint(
            'access_event', 'reason IN (' + ', '.join(f"'{event}'" for event in ACCESS_EVENTS) + ')'
        )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reissued_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE certificates SET revoked_at = ("
        " SELECT COALESCE(enrollments.revoked_at, certificates.issued_at) FROM enrollments"
        " WHERE enrollments.id = certificates.enrollment_id AND enrollments.status = 'revoked')"
    )


def downgrade():
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_column('reissued_at')
        batch_op.drop_column('revoked_at')
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_enrollments_access_event'), type_='check')
        batch_op.drop_column('reason')
