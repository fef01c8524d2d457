"""Tools for the hostile-input walk: read a page's forms, and the hostile values to put in them.

A `FormScan` reads every form of a page the way a browser would submit it: the names of
its fields, the value each would send as the page stands (a valid baseline to mutate one
field at a time), the options of each select, and which fields take a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote_plus, urlsplit

# ---------------------------------------------------------------------------
# Reading forms


@dataclass
class ScannedForm:
    """One <form method="post"> of a page: where it posts and what it would send."""

    action: str
    multipart: bool
    values: dict[str, list[str]] = field(default_factory=dict)  # name -> values sent as the page stands
    types: dict[str, str] = field(default_factory=dict)  # name -> input type (text, number, date, hidden...)
    options: dict[str, list[str]] = field(default_factory=dict)  # select name -> its option values
    files: set[str] = field(default_factory=set)

    @property
    def names(self) -> list[str]:
        return sorted({*self.values, *self.files} - {"csrf_token"})


class FormScan(HTMLParser):
    """The POST forms of one page (GET forms are search boxes; their names are query parameters)."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[ScannedForm] = []
        self.query_names: set[str] = set()
        self._form: ScannedForm | None = None
        self._get_form = False
        self._select: str | None = None
        self._select_chosen: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    @classmethod
    def of(cls, page_url: str, html: str) -> FormScan:
        scan = cls(page_url)
        scan.feed(html)
        scan.close()
        return scan

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            if a.get("method", "get").lower() == "post":
                action = urlsplit(a.get("action") or self.page_url).path
                self._form = ScannedForm(action=action, multipart="multipart" in a.get("enctype", ""))
            else:
                self._get_form = True
            return
        name = a.get("name")
        if not name:
            return
        if self._get_form and tag in ("input", "select", "textarea"):
            self.query_names.add(name)
            return
        if self._form is not None:
            self._field(self._form, tag, name, a)

    def _field(self, form: ScannedForm, tag: str, name: str, a: dict[str, str]) -> None:
        """A named field of a POST form: its type, its options and the value it sends as the page stands."""
        if tag == "input":
            self._input(form, name, a)
        elif tag == "button" and a.get("type", "submit") == "submit":
            form.options.setdefault(name, []).append(a.get("value", ""))
            form.values.setdefault(name, [])
        elif tag == "select":
            form.types[name] = "select"
            self._select, self._select_chosen, self._select_first = name, None, None
            form.options.setdefault(name, [])
        elif tag == "option" and self._select:
            value = a.get("value", "")
            form.options[self._select].append(value)
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                self._select_chosen = value
        elif tag == "textarea":
            form.types[name] = "textarea"
            self._textarea, self._text = name, []

    @staticmethod
    def _input(form: ScannedForm, name: str, a: dict[str, str]) -> None:
        kind = a.get("type", "text").lower()
        form.types[name] = kind
        if kind == "file":
            form.files.add(name)
        elif kind in ("checkbox", "radio"):
            form.options.setdefault(name, []).append(a.get("value", "on"))
            form.values.setdefault(name, [])
            if "checked" in a:
                form.values[name].append(a.get("value", "on"))
        elif kind not in ("submit", "button", "image", "reset"):
            form.values.setdefault(name, []).append(a.get("value", ""))

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            if self._form is not None:
                self.forms.append(self._form)
            self._form, self._get_form = None, False
        elif tag == "select" and self._form is not None and self._select:
            chosen = self._select_chosen if self._select_chosen is not None else self._select_first
            self._form.values[self._select] = [chosen] if chosen is not None else []
            self._select = None
        elif tag == "textarea" and self._form is not None and self._textarea:
            self._form.values[self._textarea] = ["".join(self._text).lstrip("\n")]
            self._textarea = None


def urlencoded(pairs: list[tuple[str, str]]) -> bytes:
    """A form body as a browser (or a hostile client) sends it; lone surrogates go as their raw UTF-8 bytes."""
    return "&".join(
        quote_plus(name.encode("utf-8", "surrogatepass")) + "=" + quote_plus(value.encode("utf-8", "surrogatepass"))
        for name, value in pairs
    ).encode("ascii")


# ---------------------------------------------------------------------------
# Hostile values

TEN_MEGABYTES = "x" * (10 * 1024 * 1024)

#: Refused for the whole request by the request guard, whichever field holds them.
GUARDED = ("NUL", "control character", "lone surrogate")

#: What goes into one form field. NUL, controls and lone surrogates are refused for the whole
#: request; everything else must come back as a form error (or be taken as harmless text).
FIELD_VALUES: dict[str, str] = {
    "NUL": "calm\x00river",
    "control character": "calm\x1briver",
    "lone surrogate": "calm\ud800river",
    "10 MB": TEN_MEGABYTES,
    "NaN": "NaN",
    "inf": "inf",
    "-Infinity": "-Infinity",
    "1e400": "1e400",
    "-1": "-1",
    "2**31": str(2**31),
    "2**63": str(2**63),
    "5000 digits": "9" * 5000,
    "year 9999": "9999-12-31",
    "year 9999 and a time": "9999-12-31T23:59",
    "year 1": "0001-01-01T00:00",
    "CRLF": "calm\r\nSet-Cookie: taken=1",
    "JSON array": '["a", 1]',
    "empty": "",
    "whitespace": " \t ",
    "Arabic-Indic digits": "٣٤",
    "superscript two": "²",
}

NUMBERS = ("NaN", "inf", "-Infinity", "1e400", "-1", "2**31", "2**63", "5000 digits", "Arabic-Indic digits")
DATES = ("year 9999", "year 9999 and a time", "year 1", "whitespace", "JSON array")
#: The values most likely to get past a form's parsing to its service, by the input type the page shows.
BY_INPUT_TYPE: dict[str, tuple[str, ...]] = {
    "number": (*NUMBERS, "superscript two"),
    "date": DATES,
    "datetime-local": DATES,
    "month": ("year 9999", "2**63", "whitespace", "Arabic-Indic digits"),
    "hidden": ("2**31", "2**63", "-1", "Arabic-Indic digits", "superscript two", "JSON array", "5000 digits"),
    "email": ("CRLF", "whitespace", "JSON array", "5000 digits"),
    "url": ("CRLF", "JSON array", "whitespace"),
    "radio": ("whitespace", "2**63", "JSON array"),
    "checkbox": ("whitespace", "JSON array", "NaN"),
    "select": ("whitespace", "2**63", "JSON array", "Arabic-Indic digits", "empty"),
}

#: File names for file fields.
FILE_NAMES: dict[str, str] = {
    "CRLF in the name": 'notes"\r\nX-Injected: 1.csv',
    "NUL in the name": "notes\x00.csv",
    "path in the name": "../../etc/passwd",
    "very long name": "n" * 5000 + ".csv",
    "no name": "",
}
FILE_BODIES: dict[str, bytes] = {
    "NUL bytes": b"date,fee\n2026-01-05,\x00150\n",
    "invalid UTF-8": b"date,fee\n\xff\xfe2026-01-05,150\n",
    "year 9999": b"date,fee,email,minutes\n9999-12-31,1e400,a@example.org,NaN\n",
    "empty": b"",
}

#: What goes into one member of a JSON body, as JSON text (so NaN and escapes are exactly what a client sends).
JSON_MEMBERS: dict[str, str] = {
    "2**40": str(2**40),  # JSON can hold it exactly; a PostgreSQL integer can't
    "NaN": "NaN",
    "Infinity": "Infinity",
    "1e400": "1e400",
    "2**63": str(2**63),
    "-1": "-1",
    "true": "true",
    "null": "null",
    "array": "[1, 2]",
    "object": '{"a": 1}',
    "string": '"12"',
    "NUL": '"a\\u0000b"',
    "lone surrogate": '"\\ud800.mp4"',
    "CRLF": '"notes\\r\\nX-Injected: 1.pdf"',
    "5000 digits": "9" * 5000,
}

#: Whole JSON bodies, where an object is expected.
JSON_BODIES: dict[str, bytes] = {
    "array": b"[1, 2, 3]",
    "string": b'"hello"',
    "null": b"null",
    "number": b"12",
    "true": b"true",
    "not JSON": b"{'single': quotes}",
    "50,000 deep": b"[" * 50_000 + b"]" * 50_000,
    "50,000 deep object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "invalid UTF-8": b'{"filename": "\xff\xfe.mp4"}',
}


def json_with(baseline: dict, key: str, member: str) -> bytes:
    """The baseline JSON object with one member replaced by raw JSON text."""
    others = {k: v for k, v in baseline.items() if k != key}
    body = json.dumps(others)[:-1]
    separator = ", " if others else ""
    return f"{body}{separator}{json.dumps(key)}: {member}}}".encode()


#: Query-string values, already percent-encoded as they would appear in a link.
QUERY_VALUES: dict[str, str] = {
    "NUL": "%00",
    "control character": "%1B",
    "space": "%20",
    "tab": "%09",
    "empty": "",
    "2**70": str(2**70),
    "-1": "-1",
    "NaN": "NaN",
    "year 9999": "9999-12",
    "Arabic-Indic digits": "%D9%A3",
    "CRLF": "%0D%0AX-Injected:%201",
    "surrogate bytes": "%ED%A0%80",
    "JSON array": "%5B%5D",
    "5000 digits": "9" * 5000,
}
