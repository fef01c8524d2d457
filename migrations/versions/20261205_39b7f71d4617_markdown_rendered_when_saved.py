"""markdown rendered when saved: a sanitized HTML column beside each Markdown column, filled for existing rows

Revision ID: 39b7f71d4617
Revises: 256cddbc7736
Create Date: 2026-12-05 22:56:25.000328

"""
from alembic import op
import sqlalchemy as sa

from courseplatform.markdown_render import render_stored_markdown


# revision identifiers, used by Alembic.
revision = '39b7f71d4617'
down_revision = '256cddbc7736'
branch_labels = None
depends_on = None

MARKDOWN_COLUMNS = [
    ('creator_profiles', 'bio', 'bio_html'),
    ('courses', 'description', 'description_html'),
    ('lessons', 'body', 'body_html'),
    ('quiz_questions', 'explanation', 'explanation_html'),
]


def upgrade():
    for table, _source, html in MARKDOWN_COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(html, sa.Text(), server_default='', nullable=False))

    render_stored_markdown(op.get_bind(), MARKDOWN_COLUMNS)


def downgrade():
    for table, _source, html in reversed(MARKDOWN_COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(html)
