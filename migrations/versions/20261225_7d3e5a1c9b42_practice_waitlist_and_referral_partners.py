"""The practice waitlist (an address and dates, nothing clinical) and referral partners; the creator's
practice waitlist page switch and words; a message's Reply-To and one-click unsubscribe link;
an offering for the public's confirmation that it quotes no testimonial solicited from a client

Revision ID: 7d3e5a1c9b42
Revises: c41e7a9b2d60
Create Date: 2026-12-07 06:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7d3e5a1c9b42'
down_revision = 'c41e7a9b2d60'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('practice_waitlist_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('creator_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_mailed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('enrolled_before_leaving', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('income_before_leaving_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.CheckConstraint('(email IS NULL) = (left_at IS NOT NULL)', name=op.f('ck_practice_waitlist_entries_address_until_left')),
    sa.CheckConstraint('email = lower(email)', name=op.f('ck_practice_waitlist_entries_email_lowercase')),
    sa.ForeignKeyConstraint(['creator_id'], ['creator_profiles.id'], name=op.f('fk_practice_waitlist_entries_creator_id_creator_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_waitlist_entries')),
    sa.UniqueConstraint('creator_id', 'email', name='uq_practice_waitlist_entries_creator_email')
    )
    with op.batch_alter_table('practice_waitlist_entries', schema=None) as batch_op:
        batch_op.create_index('ix_practice_waitlist_entries_creator_created', ['creator_id', 'created_at'], unique=False)

    op.create_table('referral_partners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('creator_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('credentials', sa.String(length=120), server_default='', nullable=False),
    sa.Column('specialties', sa.String(length=300), server_default='', nullable=False),
    sa.Column('url', sa.String(length=500), server_default='', nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['creator_profiles.id'], name=op.f('fk_referral_partners_creator_id_creator_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_partners'))
    )
    with op.batch_alter_table('referral_partners', schema=None) as batch_op:
        batch_op.create_index('ix_referral_partners_creator_position', ['creator_id', 'position'], unique=False)

    with op.batch_alter_table('creator_profiles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('practice_waitlist_open', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('practice_waitlist_message', sa.Text(), server_default='', nullable=False))

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('testimonials_unsolicited', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('outgoing_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_to', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('unsubscribe_url', sa.String(length=2000), nullable=True))



def downgrade():
    with op.batch_alter_table('outgoing_mail', schema=None) as batch_op:
        batch_op.drop_column('unsubscribe_url')
        batch_op.drop_column('reply_to')

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_column('testimonials_unsolicited')

    with op.batch_alter_table('creator_profiles', schema=None) as batch_op:
        batch_op.drop_column('practice_waitlist_message')
        batch_op.drop_column('practice_waitlist_open')

    with op.batch_alter_table('referral_partners', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_partners_creator_position')

    op.drop_table('referral_partners')
    with op.batch_alter_table('practice_waitlist_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_practice_waitlist_entries_creator_created')

    op.drop_table('practice_waitlist_entries')
