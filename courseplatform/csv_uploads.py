"""One reader for the CSV files people upload: session income, attendance reports and learner lists.

Spreadsheets and practice-management systems write CSV in many ways: UTF-8 with or without a BOM,
UTF-16 (Teams), Windows or Mac code pages (Excel's "CSV (Comma delimited)"), commas, semicolons
(European settings) or tabs, CRLF line ends, and quoted cells that run over several lines. This
module turns any of them into rows, each numbered as a spreadsheet shows it (a cell over three
lines is still one row), or refuses the file with a reason the caller words for its page.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Iterator
from dataclasses import dataclass

from charset_normalizer import from_bytes

DELIMITERS = (",", ";", "\t", "|")
# Enough of the file to tell its encoding and its delimiter; a guess from more costs time and changes nothing.
SAMPLE_BYTES = 64 * 1024
# Formats that are never CSV, by their first bytes: zip (xlsx, numbers), old Excel (OLE2), PDF.
NOT_CSV_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF")
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# The code pages spreadsheets and practice systems write when not UTF-8, commonest first: Excel on Windows
# (Western, Central European, Cyrillic, Greek, Turkish, Baltic), then old Mac Excel and DOS exports.
CODE_PAGES = ("cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257", "mac_roman", "cp850", "cp437")


class Refusal(enum.Enum):
    TOO_LARGE = "too_large"
    NOT_CSV = "not_csv"  # a spreadsheet, a PDF, or bytes that are no text at all
    UNREADABLE = "unreadable"  # text in no encoding we can tell
    EMPTY = "empty"
    MALFORMED = "malformed"  # the CSV itself is broken (a NUL byte, a field beyond the csv module's limit)


class CsvRefused(ValueError):
    """The file can't be read as CSV; `reason` says why, `row` where (for MALFORMED)."""

    def __init__(self, reason: Refusal, detail: str = "", row: int | None = None):
        super().__init__(detail or reason.value)
        self.reason, self.detail, self.row = reason, detail, row


@dataclass(frozen=True)
class CsvFile:
    """An uploaded file's text, and how it was read."""

    text: str
    encoding: str
    delimiter: str

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number as a spreadsheet shows it, cells) for every row, blank rows included.

        Raises CsvRefused(MALFORMED) with the row where the CSV breaks.
        """
        reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)
        number = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise CsvRefused(Refusal.MALFORMED, str(exc), number + 1) from exc
            number += 1
            yield number, row


def read_upload(data: bytes, *, max_bytes: int) -> CsvFile:
    """The uploaded bytes as CSV text with its delimiter; CsvRefused if they can't be."""
    if len(data) > max_bytes:
        raise CsvRefused(Refusal.TOO_LARGE)
    text, encoding = decode(data)
    if not text.strip():
        raise CsvRefused(Refusal.EMPTY)
    if "\x00" in text:
        raise CsvRefused(Refusal.MALFORMED, "a NUL byte", text[: text.index("\x00")].count("\n") + 1)
    return CsvFile(text=text, encoding=encoding, delimiter=sniff_delimiter(text))


def decode(data: bytes) -> tuple[str, str]:
    """The text of an upload and the encoding it was in: a BOM's, else UTF-8, else the best guess."""
    if data.startswith(UTF16_BOMS):  # Teams exports UTF-16 with tabs
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise CsvRefused(Refusal.UNREADABLE) from exc
    if data.startswith(NOT_CSV_SIGNATURES) or b"\x00" in data[:4096]:
        raise CsvRefused(Refusal.NOT_CSV)  # a spreadsheet, a PDF, binary, or UTF-16 without its BOM
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    encoding = _code_page(data[:SAMPLE_BYTES])
    if encoding is None:
        raise CsvRefused(Refusal.UNREADABLE)
    try:
        return data.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError) as exc:
        raise CsvRefused(Refusal.UNREADABLE) from exc


def _code_page(sample: bytes) -> str | None:
    """The code page a non-UTF-8 file is most likely in, of those spreadsheets write.

    charset-normalizer weighs each by how natural the text reads in it. On a short export several read
    equally well (a German row is the same in cp1252 and cp1250, a French one is not); among those the
    commonest writer wins, Excel on Windows in Western Europe and the Americas.
    """
    matches = list(from_bytes(sample, cp_isolation=list(CODE_PAGES)))
    if not matches:
        return None
    least = min(match.chaos for match in matches)
    candidates = {
        name
        for match in matches
        if match.chaos <= least + 0.02
        for name in (match.encoding, *match.could_be_from_charset)
    }
    return next(name for name in (*CODE_PAGES, *sorted(candidates)) if name in candidates)


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon, tab or pipe: whichever the header line uses most, counted outside quotes.

    The header is the first line holding any of them, so a report that opens with a title line (Zoom,
    Teams) is read by its table; cells below it (a decimal comma in a semicolon file, tags such as
    "member;vip" in a comma file) don't vote. One column reads as commas.
    """
    for line in _unquoted_lines(text[:SAMPLE_BYTES]):
        counts = {delimiter: line.count(delimiter) for delimiter in DELIMITERS}
        best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])  # the first of equals: comma
        if counts[best]:
            return best
    return ","


def _unquoted_lines(text: str) -> list[str]:
    """The text's lines with quoted parts taken out (a quoted cell may span lines)."""
    lines: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "\n" and not quoted:
            lines.append("".join(current))
            current = []
        elif not quoted:
            current.append(ch)
    lines.append("".join(current))
    return lines


def refusal_message(refused: CsvRefused, messages: dict[Refusal, str]) -> str:
    """The caller's words for a refusal; a broken CSV names the line where it breaks."""
    if refused.reason in messages:
        return messages[refused.reason]
    if refused.reason is Refusal.MALFORMED:
        return f"That file isn't a CSV we can read (line {refused.row}: {refused.detail})."
    return "That file can't be read as CSV. Save it as “CSV UTF-8” and upload it again."
