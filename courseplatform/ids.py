"""Database ids as they arrive from outside: in URLs, hidden form fields and JSON bodies.

Every primary key is a PostgreSQL `integer`, so a figure above 2**31 - 1 can name
nothing: it must be "not found", never a query the database refuses (a server error).
"""

from __future__ import annotations

import builtins
import re

from werkzeug.routing import IntegerConverter, Map

# What a PostgreSQL `integer` column holds: every id, and every count or amount stored as one.
MAX_INTEGER = 2**31 - 1
MAX_ID = MAX_INTEGER
# ASCII digits only: "²".isdigit() and "٣".isdigit() are true, and int() reads "٣" as 3.
ID_RE = re.compile(r"[0-9]{1,10}")


def parse_id(raw: object) -> int | None:
    """The id a form field, query parameter or JSON member holds, or None if it can't be one."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 1 <= raw <= MAX_ID else None
    if not isinstance(raw, str) or not ID_RE.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: ASCII digits up to MAX_ID, so an id beyond the database's range is a 404."""

    regex = r"[0-9]+"

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = None) -> None:
        super().__init__(
            map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else builtins.min(max, MAX_ID)
        )
