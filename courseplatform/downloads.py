"""File names people give their files, and the Content-Disposition header that offers a download.

A name comes from an upload (the browser's file name) and goes back out in a header, where a
line break would end the header and start another. So names are cleaned where they come in,
and the header is built in one place, from a cleaned name, whatever was stored before.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_FILENAME_LENGTH = 255
# Control characters (line breaks and tabs too), DEL, lone surrogates, and the bidirectional
# overrides that make "gpj.exe" read as "exe.jpg".
UNSAFE_IN_NAMES = re.compile("[\x00-\x1f\x7f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def clean_filename(name: str | None, fallback: str = "file") -> str:
    """What is kept of a name a person gave a file: no folders, no control characters, at most 255 characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = " ".join(UNSAFE_IN_NAMES.sub(" ", base).split())
    return base[:MAX_FILENAME_LENGTH] or fallback


def attachment(filename: str) -> str:
    """`Content-Disposition: attachment` for any name: a plain ASCII `filename`, and `filename*` for the rest."""
    name = clean_filename(filename, "download")
    # Old browsers read the plain name: "Übung" becomes "Ubung" there, as Werkzeug does it.
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().replace('"', "") or "download"
    if plain == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name)}"
