"""Shared column types and helpers for the models."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy import event
from sqlalchemy.orm import MappedColumn, Mapper, mapped_column
from sqlalchemy.types import TypeDecorator

from ..markdown_render import render_markdown


def utcnow() -> datetime:
    """The current instant as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite has no time zones; PostgreSQL stores `timestamptz`. Either way the
    application only ever sees aware UTC datetimes.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# `info` of a column or index that exists on PostgreSQL alone (full-text search); SQLite's schema has no copy.
ONLY_ON_POSTGRESQL = {"only_on": "postgresql"}


def exists_on(dialect_name: str):
    """Alembic's `include_object` for one dialect: leave out what the models keep for another database.

    Migrations create a PostgreSQL-only column or index on PostgreSQL alone, so on SQLite the
    comparison of migrated schema and models must not expect it.
    """

    def include(obj, name, type_, reflected, compare_to) -> bool:
        only_on = getattr(obj, "info", {}).get("only_on")
        return only_on is None or only_on == dialect_name

    return include


def whole_sum(value) -> sa.ColumnElement[int]:
    """SUM as a whole number (PostgreSQL would answer a NUMERIC for a sum of integers), 0 for no rows."""
    return sa.cast(sa.func.coalesce(sa.func.sum(value), 0), sa.BigInteger)


def like_pattern(term: str) -> str:
    """`50%_off` → `%50\\%\\_off%`: the term matched literally anywhere in the text."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def enum_column(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A portable enum: VARCHAR plus a named CHECK constraint listing the values."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def money_check(column: str) -> sa.CheckConstraint:
    """A CHECK that a money column in minor units is never negative."""
    return sa.CheckConstraint(f"{column} >= 0", name=f"{column}_non_negative")


class SanitizedHTML(TypeDecorator):
    """HTML that came out of `render_markdown`: stored as text, read back as Markup for templates.

    Only Markup can be stored, so a plain string can never reach a page unescaped through here.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, Markup):
            raise TypeError("only HTML made by render_markdown is stored in a SanitizedHTML column")
        return str(value)

    def process_result_value(self, value, dialect):
        return None if value is None else Markup(value)  # noqa: S704 (only render_markdown's output is stored)


def markdown_html(source: str, *, deferred: bool = False) -> MappedColumn:
    """The sanitized HTML of the Markdown column `source`, rendered each time `source` is set.

    Pages print this column; nothing renders Markdown while a page is viewed. `deferred` keeps it out
    of lists that load many rows but print none of it (pages that print it undefer it).
    """
    return mapped_column(
        SanitizedHTML(), default=Markup(""), server_default="", deferred=deferred, info={"markdown_source": source}
    )


class RenderedMarkdown(str):
    """Markdown text that carries the sanitized HTML stored for it, so setting it renders nothing again.

    Copying many texts at once (duplicating an offering) would otherwise render each of them anew,
    up to a second or two apiece. Only `stored_markdown` makes one, from a row's own columns.
    """

    html: Markup

    def __new__(cls, text: str, html: Markup) -> RenderedMarkdown:
        copy = super().__new__(cls, text)
        copy.html = html
        return copy


def stored_markdown(row: object, source: str) -> RenderedMarkdown:
    """The Markdown attribute `source` of a saved row with its stored HTML, to set on another row as is."""
    return RenderedMarkdown(getattr(row, source), getattr(row, _html_key(type(row), source)))


def _html_key(cls: type, source: str) -> str:
    mapper: Mapper = sa.inspect(cls)
    return next(key for key, column in mapper.columns.items() if column.info.get("markdown_source") == source)


@event.listens_for(Mapper, "after_mapper_constructed")
def _render_markdown_when_its_source_is_set(mapper: Mapper, cls: type) -> None:
    for key, column in mapper.columns.items():
        source = column.info.get("markdown_source")
        if source is not None:
            event.listen(getattr(cls, source), "set", _renderer_into(key), retval=True)


def _renderer_into(html_key: str):
    def render(target, value, _oldvalue, _initiator):
        if isinstance(value, RenderedMarkdown):
            setattr(target, html_key, value.html)
            return str(value)
        setattr(target, html_key, render_markdown(value))
        return value

    return render
