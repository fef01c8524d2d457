"""Finding offerings by the words a visitor typed: full-text search on PostgreSQL, LIKE on SQLite.

On PostgreSQL each offering carries a weighted `tsvector` (title, subtitle, creator's name,
description) that triggers keep current and a GIN index serves, so a search reads the index
instead of every description. The visitor's text goes to `websearch_to_tsquery`, which accepts
anything typed (quotes make a phrase, `or` an alternative, `-word` an exclusion) without a syntax
error; the last word also matches as a prefix of the words of titles, subtitles and creators'
names, so "mindf" finds "Mindfulness for teens" while it is typed (descriptions match whole
words, in any form: "mindful" finds a description that says "mindfulness").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSQUERY

from ..extensions import db
from ..models import CreatorProfile, Offering
from ..models.base import like_pattern

MAX_SEARCH_TERMS = 8  # SQLite's LIKE: words matched, each one more scan of the text
MAX_SEARCH_LENGTH = 200  # characters read of a search, whatever reached the service
# Stemmed words ("techniques" finds "technique") and, for prefixes and names, words as written;
# the migration that adds `courses.search_vector` builds it with the same two configurations.
STEMMED = sa.literal_column("'english'::regconfig")
AS_WRITTEN = sa.literal_column("'simple'::regconfig")
PLAIN_WORD = re.compile(r"[^\W_]+")  # letters and digits only: safe to hand to to_tsquery with `:*`
# ts_rank_cd normalization 1: divide by 1 + log(length), so a long description repeating a word
# doesn't outrank a title that names it.
RANK_NORMALIZATION = 1


@dataclass(frozen=True)
class TextMatch:
    """Which offerings match the visitor's words, and how to order them best match first."""

    condition: sa.ColumnElement[bool]
    relevance: tuple[sa.ColumnElement, ...]


def text_match(text: str) -> TextMatch | None:
    """The match for a search on this database, or None when there are no words to look for."""
    text = text.replace("\x00", " ")[:MAX_SEARCH_LENGTH].strip()
    if not text:
        return None
    if db.session.get_bind().dialect.name == "postgresql":
        return _full_text_match(text)
    return _like_match(text)


def visitor_tsquery(text: str) -> sa.ColumnElement:
    """The visitor's text as a tsquery: web-search syntax, with the last plain word also a prefix.

    "grief work" → 'grief' & 'work' | 'grief' & 'work':*; after "or" the prefix is an alternative
    ("anxiety or pan" → … | 'anxieti' | 'pan':*). A last word in quotes or with a minus stays as typed.
    """
    whole = sa.func.websearch_to_tsquery(STEMMED, text, type_=TSQUERY)
    words = text.split()
    last = words[-1]
    if not PLAIN_WORD.fullmatch(last) or text.count('"') % 2:
        return whole
    before = words[:-1]
    alternative = len(before) > 1 and before[-1].lower() == "or"
    if alternative:
        before = before[:-1]
    typed_so_far = sa.func.to_tsquery(AS_WRITTEN, f"{last}:*", type_=TSQUERY)
    if before:
        head = sa.func.websearch_to_tsquery(STEMMED, " ".join(before), type_=TSQUERY)
        typed_so_far = head.op("||" if alternative else "&&", return_type=TSQUERY)(typed_so_far)
    return whole.op("||", return_type=TSQUERY)(typed_so_far)


def _full_text_match(text: str) -> TextMatch:
    query = visitor_tsquery(text)
    vector = Offering.__table__.c.search_vector  # not mapped: see the model
    rank = sa.func.ts_rank_cd(vector, query, RANK_NORMALIZATION)
    return TextMatch(
        condition=vector.bool_op("@@")(query),
        relevance=(rank.desc(), Offering.published_at.desc(), Offering.id.desc()),
    )


def _like_match(text: str) -> TextMatch:
    """SQLite's fallback: every word somewhere in the four fields; those with all words in the title first,
    then in the subtitle, then in the creator's name (the order of the weights on PostgreSQL)."""
    patterns = [like_pattern(term) for term in text.split()[:MAX_SEARCH_TERMS]]
    fields = (Offering.title, Offering.subtitle, CreatorProfile.display_name, Offering.description)
    condition = sa.and_(*(sa.or_(*(field.ilike(p, escape="\\") for field in fields)) for p in patterns))
    has_all = [(sa.and_(*(field.ilike(p, escape="\\") for p in patterns)), rank) for rank, field in enumerate(fields)]
    return TextMatch(
        condition=condition,
        relevance=(sa.case(*has_all[:-1], else_=len(fields)), Offering.published_at.desc(), Offering.id.desc()),
    )
