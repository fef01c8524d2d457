"""File names people give their files, and the Content-Disposition header that offers them back.

A name comes from an upload (the browser's file name) and goes back out in a header, where a
line break would end the header and start another, and a bidi override would make
"gpj.exe" read as "exe.jpg". So names are cleaned where they come in, and every header is
built here, from a name cleaned again, whatever was stored before.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from flask import Response

MAX_FILENAME_LENGTH = 255
# Never kept in a name: control, format (bidi marks), surrogate, private and unassigned
# characters, and line or paragraph separators.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def clean_filename(name: str | None, fallback: str = "file") -> str:
    """What is kept of a file's name: its last path segment, without characters a header or a
    reader could be fooled by, double quotes made single, at most 255 characters with its extension."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    kept = []
    for char in unicodedata.normalize("NFC", base):
        if unicodedata.category(char) in _DROPPED_CATEGORIES:
            kept.append(" ")
        else:
            kept.append("'" if char == '"' else char)
    cleaned = " ".join("".join(kept).split()).strip(" .")
    if len(cleaned) > MAX_FILENAME_LENGTH:
        _, dot, extension = cleaned.rpartition(".")
        keep = f"{dot}{extension}" if dot and len(extension) <= 10 else ""
        cleaned = cleaned[: MAX_FILENAME_LENGTH - len(keep)].rstrip(" .") + keep
    return cleaned or fallback


def content_disposition(kind: str, filename: str) -> str:
    """`inline` or `attachment` with a safe name: a plain ASCII `filename`, and `filename*` for the rest."""
    name = clean_filename(filename, "download")
    extension = name.rpartition(".")[2] if "." in name else ""
    # Old browsers read the plain name ("Übung" becomes "Ubung" there, as Werkzeug does it),
    # and some percent-decode it, so % goes too.
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    plain = " ".join(re.sub(r"[^\x20-\x7e]|[%\"\\]", "_", plain).split()).strip(" .")
    if not plain or plain == extension:  # nothing but the extension was ASCII
        plain = f"download.{extension}" if re.fullmatch(r"[A-Za-z0-9]{1,10}", extension) else "download"
    if plain == name:
        return f'{kind}; filename="{name}"'
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def attachment(filename: str) -> str:
    """`Content-Disposition: attachment` for any name."""
    return content_disposition("attachment", filename)


def private_download(body: str | bytes, filename: str, mimetype: str = "text/csv") -> Response:
    """A file only its owner should see (their learners, income, records) as a download nobody caches."""
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": attachment(filename), "Cache-Control": "private, no-store"},
    )


# Spreadsheet programs run a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (`=HYPERLINK(...)` → `'=HYPERLINK(...)`)."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value
