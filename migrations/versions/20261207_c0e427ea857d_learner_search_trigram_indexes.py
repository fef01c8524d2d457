"""learner search: trigram indexes on users' names and e-mail addresses

PostgreSQL only (pg_trgm, a trusted contrib extension). A creator's roster search matches
`ILIKE '%text%'` on the learner's name or e-mail; with these indexes PostgreSQL finds the
matching people first and reaches their enrollment in the offering by its unique index,
instead of reading every enrollment of an offering of 200,000 learners.

Revision ID: c0e427ea857d
Revises: 08a4bd6a3c62
Create Date: 2026-12-06 07:15:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c0e427ea857d'
down_revision = '08a4bd6a3c62'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        'ix_users_name_trgm', 'users', ['name'], unique=False,
        postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'},
    )
    op.create_index(
        'ix_users_email_trgm', 'users', ['email'], unique=False,
        postgresql_using='gin', postgresql_ops={'email': 'gin_trgm_ops'},
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index('ix_users_email_trgm', table_name='users', postgresql_using='gin')
    op.drop_index('ix_users_name_trgm', table_name='users', postgresql_using='gin')
    # The extension stays: it holds no data, and other objects of the database may come to use it.
