"""Long lists a page at a time: which rows a page reads, and where it sits in the whole.

Every paged list goes through here and shows its pager with the `pager` macro of
`_macros/pagination.html`. A page number from a link (`fields.page_number`) is already
between 1 and MAX_PAGE; `Page.at` clamps again, so a service called directly is safe too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

import sqlalchemy as sa

from .extensions import db
from .fields import MAX_PAGE

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items, and where it sits among `total` of them."""

    page: int
    per_page: int
    total: int
    items: list[T] = field(default_factory=list)

    @classmethod
    def at(cls, page: int, per_page: int, total: int, *, keep_past_end: bool = False) -> Page[T]:
        """Page `page` of `total` items (no items yet): a page past the end is the last one.

        With `keep_past_end` it stays the page asked for, with nothing on it, for lists that
        say "there's no page 9" instead (the public lists and the dashboard).
        """
        pages = _pages(total, per_page)
        page = min(max(page, 1), MAX_PAGE)
        return cls(page=page if keep_past_end else min(page, pages), per_page=per_page, total=total)

    @property
    def pages(self) -> int:
        """How many pages there are; an empty list has one (empty) page."""
        return _pages(self.total, self.per_page)

    @property
    def offset(self) -> int:
        """How many items come before this page's."""
        return (self.page - 1) * self.per_page

    @property
    def past_end(self) -> bool:
        return self.page > self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None

    @property
    def first(self) -> int:
        """The position of the page's first item, from 1 ("Showing 13–24 of 40"); 0 on an empty page."""
        return self.offset + 1 if self.items else 0

    @property
    def last(self) -> int:
        """The position of the page's last item; 0 on an empty page."""
        return self.offset + len(self.items) if self.items else 0

    def window(self, statement: sa.Select) -> sa.Select:
        """`statement` limited to this page's rows."""
        return statement.limit(self.per_page).offset(self.offset)

    def with_items(self, items: list) -> Page:
        """This page holding `items`."""
        return replace(self, items=items)


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def paginate(
    statement: sa.Select,
    page: int,
    per_page: int,
    *,
    total: int | sa.Select | None = None,
    rows: bool = False,
    keep_past_end: bool = False,
) -> Page:
    """Page `page` of what `statement` selects, in two queries: a count, then the page's rows.

    `total` is the number of rows when it is already known (from running totals, or a count
    made for the page anyway: then the page is one query), or a statement that counts them;
    by default `statement`'s rows are counted. The items are the first column's values
    (entities, with joined loads made unique), or with `rows` whole rows. A page past the end
    reads nothing: it is the last page, or empty with `keep_past_end`.
    """
    if total is None:
        counted = db.session.scalar(sa.select(sa.func.count()).select_from(statement.order_by(None).subquery()))
    elif isinstance(total, sa.Select):
        counted = db.session.scalar(total)
    else:
        counted = total
    found: Page = Page.at(page, per_page, counted or 0, keep_past_end=keep_past_end)
    if found.past_end:
        return found
    statement = found.window(statement)
    return found.with_items(
        list(db.session.execute(statement)) if rows else list(db.session.scalars(statement).unique())
    )


def paginate_counted(statement: sa.Select, page: int, per_page: int) -> Page:
    """Page `page` of a ranking whose rows carry how many there are: one query instead of a count and a page.

    Ranking reads every match anyway, so counting them in the same pass halves the rows read.
    A page past the end has no row to carry the number: it counts on its own, and stays empty
    (as with `keep_past_end`).
    """
    page = min(max(page, 1), MAX_PAGE)
    counted = statement.add_columns(sa.func.count().over().label("matches"))
    found: Page = Page(page=page, per_page=per_page, total=0)
    rows = db.session.execute(found.window(counted)).all()
    if rows:
        total = rows[0].matches
    else:
        total = db.session.scalar(sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())) or 0
    return replace(found, total=total, items=[row[0] for row in rows])


def link_arguments(args: Mapping[str, object]) -> dict[str, object]:
    """A list's filters as the pager passes them to url_for: never `page` (the pager sets it) nor words that
    start with an underscore, which url_for reads as its own (`_anchor`, `_external`, `_method`, `_scheme`)."""
    return {key: value for key, value in args.items() if key != "page" and not key.startswith("_")}
