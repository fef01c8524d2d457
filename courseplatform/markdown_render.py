"""Markdown written by creators, rendered to HTML that cannot carry script.

Rendering happens when the text is saved (see `models.base.markdown_html`), never when a page is
viewed, and the parser is CommonMark's (markdown-it-py), whose time grows linearly with the text.
"""

from __future__ import annotations

import nh3
import sqlalchemy as sa
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h2",
    "h3",
    "h4",
    "strong",
    "em",
    "b",
    "i",
    "s",
    "blockquote",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}

# CommonMark plus GitHub's tables and ~~strikethrough~~. Raw HTML is shown as the text it is.
_PARSER = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render_markdown(text: str | None) -> Markup:
    """Markdown → sanitized HTML: no raw tags, no event handlers, only http(s)/mailto links."""
    clean = nh3.clean(
        _PARSER.render(text or ""),
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener nofollow ugc",
    )
    return Markup(clean)  # noqa: S704 (sanitized by nh3 just above)


def render_stored_markdown(
    connection: sa.Connection, columns: list[tuple[str, str, str]], batch_size: int = 200
) -> int:
    """Render every stored Markdown text into its HTML column, a batch of rows at a time; returns the rows written.

    `columns` lists (table, Markdown column, HTML column). Migrations call this when the HTML columns
    are added and whenever a change to the renderer or its allow-list must reach text already saved.
    """
    written = 0
    for table_name, source, target in columns:
        table = sa.table(table_name, sa.column("id"), sa.column(source), sa.column(target))
        write = sa.update(table).where(table.c.id == sa.bindparam("row_id")).values({target: sa.bindparam("html")})
        last_id = 0
        while rows := connection.execute(
            sa.select(table.c.id, table.c[source]).where(table.c.id > last_id).order_by(table.c.id).limit(batch_size)
        ).all():
            connection.execute(write, [{"row_id": row_id, "html": str(render_markdown(text))} for row_id, text in rows])
            last_id = rows[-1][0]
            written += len(rows)
    return written
