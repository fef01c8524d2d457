"""catalog full-text search: a weighted tsvector on courses, kept by triggers, with a GIN index

PostgreSQL only: on SQLite the catalog matches words with LIKE and this revision adds nothing.
Every field is stemmed by the 'english' configuration (so "techniques" finds "technique"); the
title, subtitle and creator's name are also kept as written by 'simple', so a partly typed last
word finds "mindfulness" by prefix and names stay as spelled. The description has the stemmed
copy only: it is most of the text, and a vector small enough to stay in the row (about 850 bytes
at 90 words, not 1,400 compressed out of line) is what keeps a search for a common word fast.
The stop word "the" before a stemmed copy leaves a gap in the word positions, so a quoted phrase
can't match the last word of one copy followed by the first of the other. Title weighs A,
subtitle B, the creator's name C, the description D.
A generated column could not read the creator's name from creator_profiles, so triggers keep it:
one when an offering's text or creator changes, one when a creator is renamed.

Revision ID: 08a4bd6a3c62
Revises: 7c41d2e8a9b3
Create Date: 2026-12-06 07:05:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '08a4bd6a3c62'
down_revision = '7c41d2e8a9b3'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.add_column('courses', sa.Column('search_vector', postgresql.TSVECTOR(), nullable=True))
    op.execute(
        """
        CREATE FUNCTION course_search_vector(title text, subtitle text, description text, creator_name text)
        RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT setweight(to_tsvector('simple', coalesce(title, ''))
                             || to_tsvector('english', 'the ' || coalesce(title, '')), 'A')
                || setweight(to_tsvector('simple', coalesce(subtitle, ''))
                             || to_tsvector('english', 'the ' || coalesce(subtitle, '')), 'B')
                || setweight(to_tsvector('simple', coalesce(creator_name, ''))
                             || to_tsvector('english', 'the ' || coalesce(creator_name, '')), 'C')
                || setweight(to_tsvector('english', coalesce(description, '')), 'D')
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION courses_search_vector_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.search_vector := course_search_vector(
                NEW.title, NEW.subtitle, NEW.description,
                (SELECT display_name FROM creator_profiles WHERE id = NEW.creator_id));
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER courses_search_vector
        BEFORE INSERT OR UPDATE OF title, subtitle, description, creator_id ON courses
        FOR EACH ROW EXECUTE FUNCTION courses_search_vector_refresh()
        """
    )
    op.execute(
        """
        CREATE FUNCTION creator_profiles_search_vector_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE courses
               SET search_vector = course_search_vector(title, subtitle, description, NEW.display_name)
             WHERE creator_id = NEW.id;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER creator_profiles_search_vector
        AFTER UPDATE OF display_name ON creator_profiles
        FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name)
        EXECUTE FUNCTION creator_profiles_search_vector_refresh()
        """
    )
    op.execute(
        """
        UPDATE courses
           SET search_vector = course_search_vector(
                   courses.title, courses.subtitle, courses.description, creator_profiles.display_name)
          FROM creator_profiles
         WHERE creator_profiles.id = courses.creator_id
        """
    )
    op.create_index('ix_courses_search_vector', 'courses', ['search_vector'], unique=False, postgresql_using='gin')


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index('ix_courses_search_vector', table_name='courses', postgresql_using='gin')
    op.execute("DROP TRIGGER creator_profiles_search_vector ON creator_profiles")
    op.execute("DROP FUNCTION creator_profiles_search_vector_refresh()")
    op.execute("DROP TRIGGER courses_search_vector ON courses")
    op.execute("DROP FUNCTION courses_search_vector_refresh()")
    op.execute("DROP FUNCTION course_search_vector(text, text, text, text)")
    op.drop_column('courses', 'search_vector')
