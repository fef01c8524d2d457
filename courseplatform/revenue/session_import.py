"""Reading a practice-management export (SimplePractice, TherapyNotes...) into session income rows.

Privacy comes first: when the file is read, every column whose name doesn't say it holds a
date, a fee, a duration, a count or a payer is dropped at once, payer values are reduced to a
payer kind, and other values are kept only when they contain a digit (dates, amounts,
minutes): a client's name or a diagnosis never leaves this module. What is kept travels
between the preview and the import in a signed form field, so no file is stored anywhere.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..csv_uploads import CsvRefused, Refusal, read_upload, refusal_message
from ..fields import EARLIEST_DATE, read_written_amount
from ..formatting import minor_units
from ..models import PayerKind, SessionIncomeKind

MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 5000
MAX_PAYLOAD_CHARS = 450_000  # a form field larger than ~500 kB is refused by the server
PAYLOAD_MAX_AGE = 2 * 3600
PREVIEW_ROWS = 10
MAX_ROW_CENTS = 100_000_000  # the cap of the shared money parser
SESSIONS_RANGE = (1, 1000)
MINUTES_RANGE = (5, 600)

# What each target is called in the exports we know; the first matching column is suggested.
TARGETS = ("date", "insurance", "fee", "duration", "count", "service", "status", "payer")
TARGET_LABELS = {
    "date": "Date of the session",
    "fee": "Fee",
    "insurance": "Insurance payments",
    "duration": "Duration",
    "count": "Number of sessions",
    "service": "Service or billing code",
    "status": "Appointment status",
    "payer": "Payer",
}
HEADER_PATTERNS = {
    # "Month" and "Period" head the first column of a report of monthly totals (SimplePractice's Income by Month).
    "date": re.compile(r"\bdate\b|\bdos\b|\bday\b|^\s*(?:month|period)\s*$", re.I),
    "duration": re.compile(r"duration|minutes|\bmins?\b|length", re.I),
    "count": re.compile(r"sessions?\b|count|\bqty\b|quantity|visits?\b|appointments\b|\bappts\b", re.I),
    "fee": re.compile(
        r"fee|amount|charge|rate|price|paid|payment|billed|total|income|revenue|collected|co-?pay|co pay", re.I
    ),
    "payer": re.compile(r"payer|payor|insur", re.I),
}
# When several columns hold money, the one most likely to be the line's fee is suggested; what a client
# still owes (a balance) is money but not income, so it comes last.
FEE_PREFERENCE = ("fee", "charge", "total", "amount", "billed", "paid", "payment", "collected", "rate", "price", "pay")
OWED = re.compile(r"balance|\bdue\b|owed|outstanding", re.I)
# Billing units (a 90837 with a 90785 add-on is two units) count what was billed, not sessions.
UNITS = re.compile(r"\bunits?\b", re.I)
PRICED = re.compile(r"fee|rate|price|charge|amount|paid|collected", re.I)
# Dates that aren't the session's: when a client came, was referred, was discharged, or a row was made.
NOT_SESSION_DATE = re.compile(r"intake|referr|discharg|admi(?:t|ssion)|creat|added|\bdue\b|expir|modif|updat", re.I)
# Dates that name the session, and dates of the paperwork that followed it: all offered, the first preferred.
SESSION_DATE = re.compile(r"service|session|appointment|appt|visit|\bdos\b|^\s*month\s*$", re.I)
PAPERWORK_DATE = re.compile(r"invoice|payment|paid|posted|received|billed|statement|claim|deposit|transaction", re.I)
PAYER_FIRST = re.compile(r"(?:pay(?:er|or|ment)?|billing) ?(?:type|method|kind)", re.I)
# Columns that could identify a client, or hold nothing we can map, are dropped whatever else their name says.
IDENTIFYING = re.compile(
    r"birth|\bdob\b|name|diagnos|\bdx\b|note|memo|comment|mail|phone|address|\bssn\b|\bid\b|member|"
    r"policy|subscriber|guarantor|code|icd|cpt|status|clinician|provider|location",
    re.I,
)
# A column naming the service (a CPT code, "Psychotherapy, 60 min"): read for its length only, never kept.
SERVICE = re.compile(
    r"\bservices?\b(?: (?:code|description|type|name))?|\bprocedure(?: code)?\b|\bcpt(?: code)?\b|"
    r"billing code|appointment type|session type|\bdescription\b|\bitems?\b",
    re.I,
)
# The psychotherapy codes that state a time (AMA CPT): 90832/90833 about 30 minutes (16–37),
# 90834/90836 about 45 (38–52), 90837/90838 about 60 (53 and more); family sessions about 50.
CPT_MINUTES = {"90832": 30, "90833": 30, "90834": 45, "90836": 45, "90837": 60, "90838": 60, "90839": 60,
               "90846": 50, "90847": 50}  # fmt: skip
STATED_LENGTH = re.compile(
    r"\b(\d{1,2}):([0-5]\d)\b|"  # 0:45, 1:30
    # 1 hr, 1.5 hours, 1 hr 30 min
    r"\b(\d{1,2}(?:\.\d+)?)\s*-?\s*(?:h|hr|hrs|hours?)\b(?:\s*(\d{1,2})\s*(?:m|min|mins|minutes?)\b)?|"
    r"\b(\d{1,3})\s*-?\s*(?:m|min|mins|minutes?)\b",  # 60 min, 50-minute
    re.I,
)
# An appointment's status (not a payment's or a claim's): kept only as what it means for the line.
APPOINTMENT_STATUS = re.compile(
    r"^\s*(?:(?:appointment|appt\.?|session|visit|attendance|show)\s+)?status\s*$|^\s*attendance\s*$", re.I
)
# What a status says of the appointment, tried in this order ("Late cancel" before "Cancel").
STATUS_MEANINGS = (
    (
        "missed",
        re.compile(
            r"late[ -]?cancel|cancel\w*[\s(–-]*late\b|\blc\b|no[ -]?show|\bns\b|\bdna\b|"
            r"did not (?:attend|show)|missed|\bfailed\b",
            re.I,
        ),
    ),
    ("canceled", re.compile(r"cancel|resched|deleted|\bvoid", re.I)),
    ("pending", re.compile(r"scheduled|booked|pending|unconfirmed|confirmed|tentative|requested", re.I)),
    (
        "held",
        re.compile(
            r"^\s*$|attended|\bshow(?:ed)?\b|arriv|checked[ -]?(?:in|out)|complete|\bkept\b|\bseen\b|"
            # a payment status names a session held and billed
            r"present|\bdone\b|billed|non[- ]?billable|not billable|no charge|"
            r"\bpaid\b|occurred|happened|unpaid|partial|invoiced|outstanding|overdue|"
            r"written off|claim",
            re.I,
        ),
    ),
)
# Add-on codes (AMA CPT) bill with a session, never alone: interactive complexity, crisis minutes, prolonged
# service; and the words for them.
ADD_ON = re.compile(r"\b(?:90785|90840|90863|99354|99355|99415|99416|99417)\b|add[- ]?on|interactive complexity", re.I)
PACKAGE_WORDS = re.compile(r"package|bundle|\bseries\b|\bpack\b|prepaid|pre-paid|\bblock of\b", re.I)
PRODUCT_WORDS = re.compile(
    r"workbook|\bbook\b|gift ?card|gift certificate|\bproduct\b|retail|merch|shipping|journal|\bdeck\b", re.I
)
# "Client" or "Patient" alone names a person; "Client paid" is an amount.
PERSON = re.compile(r"client|patient", re.I)
# Money columns that split a line's income by who paid it.
PAID_BY_CLIENT = re.compile(r"client|patient|self|private|co-?pay", re.I)
PAID_BY_INSURER = re.compile(r"insur|payer|payor", re.I)
CHARGED = re.compile(r"\bfees?\b|charge|rate|price|billed", re.I)

# A payer is classified only from words that name a kind of payment, never guessed from anything else:
# a payer column may hold patients' own names (Jane), which must count neither as insurers nor be kept.
SELF_PAY_WORDS = re.compile(
    r"^(?:n/?a|none|-+)?$|self|private|cash|out[ -]of[ -]pocket|\bclient\b|\bpatient\b|\bcard\b|credit|"
    r"debit|\bvisa\b|mastercard|\bamex\b|venmo|zelle|paypal|\bcheck\b|\bcheque\b|e-?transfer|interac|"
    r"bank transfer|\bhsa\b|\bfsa\b|stripe|square",
    re.I,
)
SLIDING_WORDS = re.compile(r"sliding|reduced|discount|pro[ -]?bono", re.I)
INSURER_WORDS = re.compile(
    r"insur|aetna|cigna|evernorth|anthem|elevance|blue ?cross|blue ?shield|\bbcbs|united ?health|\buhc\b|optum|"
    r"humana|kaiser|medicare|medicaid|medi-?cal|tricare|magellan|beacon|carelon|oscar|ambetter|molina|highmark|"
    r"wellcare|centene|oxford|emblem|health ?net|premera|regence|geisinger|\beap\b|\bhmo\b|\bppo\b|\bepo\b|"
    r"workers'? ?comp|\bmsp\b|\bohip\b|sun ?life|manulife|canada life|great[ -]west|green ?shield|"
    r"\bbupa\b|\baxa\b|vitality|\bnhs\b|medibank|\bnib\b|\bhcf\b|\bplan\b|lyra|headway|\balma\b|\brula\b|"
    r"spring health|modern health|compsych|tufts|harvard pilgrim|florida blue|carefirst|point32",
    re.I,
)
# What a payer the words above don't name is stored as, until the preview's choice decides its kind.
UNKNOWN_PAYER = "unknown"
# A report's totals line, where a date would be; kept as TOTAL and left out.
TOTALS_ROW = re.compile(r"^\s*(?:grand\s+)?(?:totals?|sum|all)\b\s*:?\s*$", re.I)
TOTAL = "total"
SAFE_TO_ECHO = re.compile(r"^[0-9\s$£€.,:/\-()]{1,20}$")

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%d %b %Y")
# The same file written day first (03/05/2026 = 3 May), as exports outside the US usually are.
DAY_FIRST_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%d %b %Y")
# A month alone, as a report of monthly totals writes it.
MONTH_FORMATS = ("%B %Y", "%b %Y", "%B, %Y", "%Y-%m", "%m/%Y", "%m-%Y", "%Y/%m")
NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})[/-](\d{1,2})[/-]\d{2,4}")
DOTTED_DATE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})\b")


class SessionImportError(Exception):
    """The file as a whole can't be used; the message says what to do."""


@dataclass
class KeptFile:
    """What is kept of an uploaded file: its column names, and the values of the columns we may map."""

    headers: list[str]
    lines: list[int]  # the file's line number of each data row
    kinds: dict[int, str]  # column index → the target its name suggests ("payer" columns hold payer kinds)
    values: dict[int, list[str]]  # column index → one value per data row

    @property
    def dropped_on_reading(self) -> list[str]:
        return [name or f"Column {i + 1}" for i, name in enumerate(self.headers) if i not in self.kinds]

    def suggestions(self) -> dict[str, int | None]:
        """The column each target most likely comes from, each column used once.

        Money split by payer ("Client Payments", "Insurance Payments", then "Total") is suggested as the
        fee and the insurance payments, not as the total: the split keeps each payer kind apart. A file with a
        fee charged ("Fee", "Charge", "Rate") keeps the fee: what insurers still owe on it is income too.
        """
        chosen: dict[str, int | None] = {}
        used: set[int] = set()
        money = [i for i, kind in sorted(self.kinds.items()) if kind == "fee"]
        charged = any(CHARGED.search(self.headers[i]) for i in money)
        by_client = (
            []
            if charged
            else [i for i in money if PAID_BY_CLIENT.search(self.headers[i]) and not OWED.search(self.headers[i])]
        )
        by_insurer = [i for i in money if PAID_BY_INSURER.search(self.headers[i]) and not OWED.search(self.headers[i])]
        for target in TARGETS:
            candidates = [i for i, kind in sorted(self.kinds.items()) if kind == target and i not in used]
            if target == "insurance":
                candidates = by_insurer[:1] if by_client else []
            elif target == "date":
                candidates.sort(key=lambda i: _date_rank(self.headers[i]))
            elif target == "fee":
                candidates.sort(key=lambda i: _fee_rank(self.headers[i]))
                if chosen["insurance"] is not None:
                    candidates = by_client[:1]
            column = candidates[0] if candidates else None
            chosen[target] = column
            if column is not None:
                used.add(column)
        return chosen

    def choices(self, target: str) -> list[tuple[int, str]]:
        """The columns that may be mapped to `target`: payer and status columns (kept only as what they
        mean) to their own target alone, the others to any other; insurance payments come from money."""
        own = ("payer", "status", "service")
        if target == "insurance":
            target = "fee"
        return [
            (i, self.headers[i] or f"Column {i + 1}")
            for i, kind in sorted(self.kinds.items())
            if (kind == target if kind in own or target in own else True)
        ]

    def reasons(self) -> list[tuple[str, str | None, str]]:
        """(column, the target its name suggests or None, why) for every column of the file, in order."""
        return [(name or f"Column {i + 1}", *read_column(name)) for i, name in enumerate(self.headers)]

    def dumps(self) -> str:
        """The kept columns, compressed and signed, for a hidden form field."""
        data = {"h": self.headers, "l": self.lines, "k": self.kinds, "v": self.values}
        raw = zlib.compress(json.dumps(data, separators=(",", ":")).encode())
        return _serializer().dumps(raw.hex())

    @classmethod
    def loads(cls, token: str) -> KeptFile:
        """The kept columns back from the form field; SessionImportError if tampered with or too old."""
        try:
            raw = _serializer().loads(token or "", max_age=PAYLOAD_MAX_AGE)
            data = json.loads(zlib.decompress(bytes.fromhex(raw)))
        except SignatureExpired as exc:
            raise SessionImportError("This preview is more than two hours old. Upload the file again.") from exc
        except (BadSignature, ValueError, zlib.error) as exc:
            raise SessionImportError("We couldn't read the preview. Upload the file again.") from exc
        return cls(
            headers=data["h"],
            lines=data["l"],
            kinds={int(i): kind for i, kind in data["k"].items()},
            values={int(i): column for i, column in data["v"].items()},
        )


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="session-income-import")


def column_kind(header: str) -> str | None:
    """The target a column's name suggests, or None (the column is dropped).

    "service" is a service, billing-code or description column: only the minutes it states are kept.
    """
    return read_column(header)[0]


def read_column(header: str) -> tuple[str | None, str]:
    """(the target a column's name suggests or None, why), the why worded for the preview: "its name …"."""
    if not header.strip():
        return None, "it has no name, or one not repeated here because it may name a person"
    if APPOINTMENT_STATUS.search(header):
        return "status", "it is the appointment's status: only whether it was held, missed or canceled is kept"
    # "Service Fee" or "Service Charge" is money; "Service Provider" names a person.
    names_service = (
        bool(SERVICE.search(header))
        and not HEADER_PATTERNS["fee"].search(header)
        and not IDENTIFYING.search(SERVICE.sub("", header))
    )
    if (identifying := IDENTIFYING.search(header)) and not names_service:
        return None, f"“{_word(header, identifying)}” in its name says it may identify a client or hold a note"
    if (person := PERSON.search(header)) and not HEADER_PATTERNS["fee"].search(header):
        return None, f"“{_word(header, person)}” alone names a person"
    if PAYER_FIRST.search(header):
        return "payer", "it says how a session was paid: kept only as self-pay, insurance or sliding scale"
    if dated := HEADER_PATTERNS["date"].search(header):
        if other := NOT_SESSION_DATE.search(header):
            return None, f"“{_word(header, other)}” says it is a date that isn't the session's"
        return "date", f"“{_word(header, dated)}” in its name"
    if names_service:
        return "service", "it names the service: only the length it states and whether it was a session are kept"
    if lasts := HEADER_PATTERNS["duration"].search(header):
        return "duration", f"“{_word(header, lasts)}” in its name"
    # Billing units are not sessions ("Total Units"), but a price per unit is an amount ("Rate per Unit");
    # and money comes before counts: "Session Rate" and "Service Fee Per Unit" are amounts.
    if UNITS.search(header) and not PRICED.search(header):
        return None, "billing units count what was billed, not sessions"
    if money := HEADER_PATTERNS["fee"].search(header):
        owed = OWED.search(header)
        return "fee", f"“{_word(header, money)}” in its name" + (
            " (what is still owed, so chosen last)" if owed else ""
        )
    if counted := HEADER_PATTERNS["count"].search(header):
        return "count", f"“{_word(header, counted)}” in its name"
    if payer := HEADER_PATTERNS["payer"].search(header):
        return "payer", f"“{_word(header, payer)}” in its name: kept only as self-pay, insurance or sliding scale"
    return None, UNNAMED


UNNAMED = "its name isn't a date, an amount, a length, a count or a payer"


def _word(header: str, match: re.Match) -> str:
    """The whole word of `header` that `match` falls in ("Diagnosis" for a match of "diagnos")."""
    start, end = match.start(), match.end()
    while start > 0 and header[start - 1].isalnum():
        start -= 1
    while end < len(header) and header[end].isalnum():
        end += 1
    return header[start:end].strip()


def status_of(text: str) -> str:
    """What an appointment status means for its line: held, missed (a late cancel or no-show), canceled,
    pending (not held yet), or unknown."""
    return next((meaning for meaning, words in STATUS_MEANINGS if words.search(text)), "unknown")


def nature_of_service(text: str) -> str:
    """What a service line sold: a session (the default), an add-on to one (90785 interactive complexity,
    90840 crisis minutes…), a package of sessions, or a product (a workbook, a gift card)."""
    if PRODUCT_WORDS.search(text):
        return "product"
    if PACKAGE_WORDS.search(text):
        return "package"
    if minutes_of_service(text) is None and ADD_ON.search(text):
        return "addon"
    return "session"


def minutes_of_service(text: str) -> int | None:
    """The length a service states ("Psychotherapy, 60 min", "3-hour intensive", "0:45"), else its
    psychotherapy code's (90837 → 60), else None; only lengths between 5 minutes and 10 hours count."""
    low, high = MINUTES_RANGE
    if match := STATED_LENGTH.search(text):
        if match[1]:
            minutes = int(match[1]) * 60 + int(match[2])
        elif match[3]:
            minutes = round(float(match[3]) * 60) + int(match[4] or 0)
        else:
            minutes = int(match[5])
        if low <= minutes <= high:
            return minutes
    codes = [CPT_MINUTES[code] for code in re.findall(r"\b(9\d{4})\b", text) if code in CPT_MINUTES]
    return codes[0] if codes else None


def _date_rank(header: str) -> int:
    """0 for a date that names the session ("Session Date", "Date of Service"), 2 for one that names the
    paperwork (an invoice's or a payment's date: with billing at month end, March's sessions sit on April
    invoices), 1 for any other."""
    if SESSION_DATE.search(header):
        return 0
    return 2 if PAPERWORK_DATE.search(header) else 1


def _fee_rank(header: str) -> int:
    if OWED.search(header):
        return len(FEE_PREFERENCE) + 1
    lowered = header.lower()
    return next((n for n, word in enumerate(FEE_PREFERENCE) if word in lowered), len(FEE_PREFERENCE))


def payer_kind_of(text: str) -> PayerKind | None:
    """The kind of payment the payer's words name, or None when they name none (a person, say).

    Sliding or pro bono first ("Reduced fee, cash"), then insurers ("Blue Cross EAP"), then self-pay
    words and methods (blank, "Self-pay", "Card", "Venmo", "Check").
    """
    if SLIDING_WORDS.search(text):
        return PayerKind.SLIDING_SCALE
    if INSURER_WORDS.search(text):
        return PayerKind.INSURANCE
    if SELF_PAY_WORDS.search(text.strip()):
        return PayerKind.SELF_PAY
    return None


READ_REFUSALS = {
    Refusal.TOO_LARGE: "That file is larger than 2 MB. Export a shorter period, or split the file, and upload each.",
    Refusal.NOT_CSV: "That file isn't a CSV. Export your sessions as CSV (or save the sheet as “CSV UTF-8”).",
    Refusal.UNREADABLE: "We couldn't read that file's text. Save it as “CSV UTF-8” and upload it again.",
    Refusal.EMPTY: "That file is empty. Export your sessions as CSV and upload that file.",
}


def read_export(data: bytes) -> KeptFile:
    """Keep only the mappable columns of an uploaded CSV; SessionImportError if the file can't be used at all."""
    headers: list[str] | None = None
    kinds: dict[int, str] = {}
    values: dict[int, list[str]] = {}
    lines: list[int] = []
    try:
        for number, row in read_upload(data, max_bytes=MAX_IMPORT_BYTES).rows():
            if not any(cell.strip() for cell in row):
                continue
            # A report's title and date range ("Income by Month", "Jan 1, 2026 - Jun 30, 2026") come before its
            # column names, one cell to a line: they are not the header.
            if headers is None and sum(bool(cell.strip()) for cell in row) < 2:
                continue
            if headers is None:
                headers = [cell.strip()[:80] for cell in row]
                kinds = {i: kind for i, name in enumerate(headers) if (kind := column_kind(name))}
                # A dropped column keeps its name only when the name says what it holds ("Client", "Notes"): a
                # report with a column per client or per insurer ("Jane Doe", "Aetna") keeps none of them.
                headers = [
                    name if i in kinds or read_column(name)[1] != UNNAMED else "" for i, name in enumerate(headers)
                ]
                values = {i: [] for i in kinds}
                continue
            if len(lines) >= MAX_IMPORT_ROWS:
                raise SessionImportError(
                    f"That file has more than {MAX_IMPORT_ROWS:,} sessions. Export a shorter period and upload each."
                )
            lines.append(number)
            for i, kind in kinds.items():
                cell = row[i].strip() if i < len(row) else ""
                values[i].append(_keepable(cell, kind))
    except CsvRefused as refused:
        raise SessionImportError(refusal_message(refused, READ_REFUSALS)) from refused
    if headers is None or not lines:
        raise SessionImportError(
            "That file has no sessions in it: we need a line of column names, then one line a session."
        )
    if not any(kind == "date" for kind in kinds.values()) or not any(kind == "fee" for kind in kinds.values()):
        raise SessionImportError(
            "We couldn't find a date and a fee column in that file. Its first line should name the columns, "
            "e.g. “Date of Service” and “Fee”: rename them in your spreadsheet and upload it again."
        )
    kept = KeptFile(headers=headers, lines=lines, kinds=kinds, values=values)
    if len(kept.dumps()) > MAX_PAYLOAD_CHARS:
        raise SessionImportError("That file is too large to preview. Export a shorter period and upload each part.")
    return kept


# The words dates, amounts and lengths are written with: months, weekdays, AM/PM, units, currency codes.
VALUE_WORDS = frozenset({
    "jan", "january", "feb", "february", "mar", "march", "apr", "april", "may", "jun", "june", "jul", "july",
    "aug", "august", "sep", "sept", "september", "oct", "october", "nov", "november", "dec", "december",
    "mon", "monday", "tue", "tues", "tuesday", "wed", "wednesday", "thu", "thur", "thurs", "thursday",
    "fri", "friday", "sat", "saturday", "sun", "sunday", "st", "nd", "rd", "th", "t", "z",
    "am", "pm", "a", "p", "m", "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour", "hours",
    "usd", "cad", "aud", "nzd", "gbp", "eur", "chf", "us", "ca", "c", "au", "nz",
})  # fmt: skip


def _value_word(word: str) -> bool:
    return word.lower() in VALUE_WORDS


def _keepable(cell: str, kind: str) -> str:
    """A payer becomes its kind; other values are kept only if they hold a digit (never a bare word or name)."""
    if kind == "payer":
        named = payer_kind_of(cell)
        return named.value if named else UNKNOWN_PAYER
    if kind == "status":
        return status_of(cell)
    if kind == "service":
        minutes = minutes_of_service(cell)
        return f"{minutes or ''}|{nature_of_service(cell)}"
    if kind == "date" and TOTALS_ROW.match(cell):
        return TOTAL  # a report's totals line: the sum of the lines above, not one more
    if not any(ch.isdigit() for ch in cell):
        return "" if not cell else "?"
    # Kept only if every word in it is one a date, an amount or a length is written with: a name, a
    # diagnosis or a note that happens to hold a digit ("Jane Q. #4", a cell run on by a stray quote) is not.
    if "\n" in cell or len(cell) > 40 or not all(_value_word(word) for word in re.findall(r"[^\W\d_]+", cell)):
        return "?"
    return cell


# ---------------------------------------------------------------------------
# Turning kept values into rows
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Mapping:
    """Which kept column each target comes from; duration, count and payer may be left out."""

    date: int
    fee: int
    duration: int | None = None
    count: int | None = None
    payer: int | None = None
    status: int | None = None
    service: int | None = None
    insurance: int | None = None  # insurance payments in a column of their own (the fee is then the rest)
    # The kind a payer counts as when its words name none (the preview asks; self-pay unless changed).
    unknown_payer: PayerKind = PayerKind.SELF_PAY

    def columns(self) -> list[int]:
        targets = (
            self.date, self.fee, self.duration, self.count, self.payer, self.status, self.service, self.insurance
        )  # fmt: skip
        return [i for i in targets if i is not None]


@dataclass(frozen=True)
class ParsedRow:
    line: int
    session_date: date
    sessions: int
    minutes_each: int
    amount_cents: int
    payer_kind: PayerKind
    import_key: str
    kind: SessionIncomeKind = SessionIncomeKind.SESSION
    whole_month: bool = False  # the line was a month's total in the file (dated the 1st)


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass
class ParsedFile:
    rows: list[ParsedRow] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    # How dates like 03/05/2026 were read, and whether the file itself settled it.
    day_first: bool = False
    order_is_certain: bool = True
    # Rows whose payer named no kind of payment, counted as the mapping's unknown_payer.
    unknown_payers: int = 0
    # Appointments canceled or not held yet (by their status): neither sessions nor income, left out.
    not_held: int = 0
    # Packages and products sold (by their service): not 1:1 session income, left out.
    not_sessions: int = 0
    # A report's totals lines, left out: they repeat the lines above.
    totals_lines: int = 0
    # Months' totals whose sessions were estimated at the creator's usual fee (the file had no count).
    estimated: int = 0

    @property
    def whole_months(self) -> bool:
        """Whether every line was a month's total (a report such as SimplePractice's Income by Month)."""
        return bool(self.rows) and all(row.whole_month for row in self.rows)

    def of_kind(self, kind: SessionIncomeKind) -> list[ParsedRow]:
        return [row for row in self.rows if row.kind is kind]

    def amount_of(self, kind: SessionIncomeKind) -> int:
        return sum(row.amount_cents for row in self.rows if row.kind is kind)


def date_order(values: list[str]) -> tuple[bool, bool]:
    """(day first?, certain?) for a column of dates such as 03/05/2026.

    A first number over 12 can only be a day, a second one over 12 only a day too; a file
    where every date reads both ways is left to the caller, and the preview says how it was read.
    """
    firsts = seconds = numeric = 0
    for value in values:
        match = NUMERIC_DATE.match(value or "")
        if match:
            numeric += 1
            firsts += int(match.group(1)) > 12
            seconds += int(match.group(2)) > 12
    if firsts and not seconds:
        return True, True
    return False, bool(seconds) or not numeric


# Where practice-management exports usually write the day first.
DAY_FIRST_CURRENCIES = {"GBP", "EUR", "AUD", "NZD"}


class RowProblem(ValueError):
    pass


def parse_rows(
    kept: KeptFile,
    mapping: Mapping,
    *,
    default_minutes: int,
    today: date,
    currency: str,
    day_first_likely: bool = False,
    usual_fee_cents: int | None = None,
) -> ParsedFile:
    """Every data row as session-income rows or a reason it can't be one, with its line number.

    Amounts are read in `currency` (the creator's); a row whose amount names another is a problem.
    `day_first_likely` decides dates that read both ways (a creator paid in pounds or euros).
    A line dated by a month only ("March 2026") is that month's total; without a count column its
    sessions are estimated at `usual_fee_cents`. A line split by payer (a fee and an insurance column)
    becomes a row for each payer.
    """
    day_first, certain = date_order(kept.values[mapping.date])
    if not certain:
        day_first = day_first_likely
    parsed = ParsedFile(day_first=day_first, order_is_certain=certain)
    formats = DAY_FIRST_FORMATS if day_first else DATE_FORMATS
    seen: dict[tuple, int] = {}
    latest = today + timedelta(days=1)
    for n, line in enumerate(kept.lines):
        if kept.values[mapping.date][n] == TOTAL:
            parsed.totals_lines += 1
            continue
        status = kept.values[mapping.status][n] if mapping.status is not None else "held"
        service_minutes, _, nature = (
            kept.values[mapping.service][n].partition("|") if mapping.service is not None else ("", "", "session")
        )
        if nature in ("package", "product"):
            parsed.not_sessions += 1
            continue
        if status in ("canceled", "pending") and not _refunded(kept, mapping, n, currency):
            parsed.not_held += 1  # neither a session nor income (a refund on such a line still counts)
            continue
        try:
            day, whole_month = _parse_date(kept.values[mapping.date][n], kept.headers[mapping.date], latest, formats)
            amounts = _amounts(kept, mapping, n, currency)
            total = sum(amount for amount, _ in amounts)
            if status == "unknown" and total >= 0:
                raise RowProblem(
                    f"The “{kept.headers[mapping.status or 0]}” of this line isn't one we know"
                    " (attended, late cancel, no-show, canceled or scheduled)"
                )
            kinds = [_kind(amount, status, nature) for amount, _ in amounts]
            minutes = count = 0
            if SessionIncomeKind.SESSION in kinds:
                minutes = _minutes(kept, mapping, n, default_minutes, service_minutes)
                count = _sessions(kept, mapping, n, whole_month, total, usual_fee_cents)
        except RowProblem as problem:
            parsed.bad.append(BadRow(line, str(problem)))
            continue
        if set(kinds) == {SessionIncomeKind.MISSED} and total == 0:
            parsed.not_held += 1  # a no-show without a fee: nothing to count
            continue
        parsed.estimated += whole_month and count and mapping.count is None
        parsed.unknown_payers += mapping.payer is not None and kept.values[mapping.payer][n] == UNKNOWN_PAYER
        payer = _payer(kept.values[mapping.payer][n] if mapping.payer is not None else "", mapping)
        # A payer that named no kind is fingerprinted as such, whichever kind the creator chose for it, so
        # importing the file again with another choice adds nothing.
        named = kept.values[mapping.payer][n] if mapping.payer is not None else payer.value
        for amount, kind, sessions, paid_by in _shares(amounts, kinds, count):
            if kind is SessionIncomeKind.MISSED and (paid_by or payer.value) == PayerKind.INSURANCE.value:
                paid_by = PayerKind.SELF_PAY.value  # insurers don't pay for a missed appointment: the client does
            identity: tuple = (day.isoformat(), sessions, minutes if sessions else 0, amount, paid_by or named)
            if kind is not SessionIncomeKind.SESSION:
                identity += (kind.value,)  # sessions keep the fingerprint earlier imports gave them
            # Two identical sessions on one day are two rows: the occurrence number tells them apart.
            seen[identity] = seen.get(identity, 0) + 1
            key = hashlib.sha256("|".join(map(str, (*identity, seen[identity]))).encode()).hexdigest()
            row_payer = PayerKind(paid_by) if paid_by else payer
            parsed.rows.append(
                ParsedRow(line, day, sessions, minutes if sessions else 0, amount, row_payer, key, kind, whole_month)
            )
    return parsed


def monthly_totals(rows: list[ParsedRow]) -> list[ParsedRow]:
    """The rows added up by month, payer kind, kind and session length, each dated the 1st: what is kept when
    the creator keeps monthly totals only, so no day of any client's session is stored. A total that one line
    can't hold (over SESSIONS_RANGE's most sessions or MAX_ROW_CENTS) is kept in as many parts as it takes.

    Each total's fingerprint starts with its month's `contribution`: a hash of the fingerprints of the file's
    lines in that month. The same lines again are the same contribution, so a month can be added to from a
    second file (the rest of the month) without the first file, imported again, counting twice.
    """
    in_month: dict[date, list[str]] = {}
    for row in rows:
        in_month.setdefault(row.session_date.replace(day=1), []).append(row.import_key)
    contributions = {first: contribution(keys) for first, keys in in_month.items()}
    groups: dict[tuple[date, PayerKind, SessionIncomeKind, int], list[list[int]]] = {}
    for row in rows:
        group = (row.session_date.replace(day=1), row.payer_kind, row.kind, row.minutes_each)
        parts = groups.setdefault(group, [[0, 0]])
        last = parts[-1]
        if last[0] + row.sessions > SESSIONS_RANGE[1] or abs(last[1] + row.amount_cents) > MAX_ROW_CENTS:
            parts.append(last := [0, 0])
        last[0] += row.sessions
        last[1] += row.amount_cents
    totalled = []
    for (first, payer, kind, minutes), parts in sorted(
        groups.items(), key=lambda item: (item[0][0], item[0][1].value, item[0][2].value, item[0][3])
    ):
        for n, (sessions, amount) in enumerate(parts):
            # The same totals from the same file again are the same row: importing it twice adds nothing.
            part = f"|{n}" if n else ""
            total = hashlib.sha256(
                f"month|{first:%Y-%m}|{payer.value}|{kind.value}|{minutes}|{sessions}|{amount}{part}".encode()
            )
            key = contributions[first] + total.hexdigest()[:CONTRIBUTION_CHARS]
            totalled.append(ParsedRow(0, first, sessions, minutes, amount, payer, key, kind, True))
    return totalled


CONTRIBUTION_CHARS = 32  # a month total's fingerprint: its file's contribution to the month, then the total's own


def contribution(keys: list[str]) -> str:
    """What a file brings to a month, as the first half of each of its month totals' fingerprints."""
    return hashlib.sha256("|".join(sorted(keys)).encode()).hexdigest()[:CONTRIBUTION_CHARS]


def _amounts(kept: KeptFile, mapping: Mapping, n: int, currency: str) -> list[tuple[int, str | None]]:
    """The line's money: [(amount, None)] from its fee, and (amount, "insurance") when insurance payments
    have a column of their own; an empty cell of the two is nothing paid, both empty a problem."""
    if mapping.insurance is None:
        return [(_parse_fee(kept.values[mapping.fee][n], kept.headers[mapping.fee], currency), None)]
    cells = [(mapping.fee, None), (mapping.insurance, PayerKind.INSURANCE.value)]
    if not any(kept.values[column][n] for column, _ in cells):
        raise RowProblem(f"No amount in “{kept.headers[mapping.fee]}” nor “{kept.headers[mapping.insurance]}”")
    return [
        (_parse_fee(kept.values[column][n], kept.headers[column], currency) if kept.values[column][n] else 0, paid_by)
        for column, paid_by in cells
    ]


def _sessions(
    kept: KeptFile, mapping: Mapping, n: int, whole_month: bool, total: int, usual_fee_cents: int | None
) -> int:
    """How many sessions the line holds: its count column's, one for a day's line, and for a month's total
    without a count, its income at the creator's usual fee."""
    if mapping.count is not None:
        return _parse_count(kept.values[mapping.count][n], kept.headers[mapping.count])
    if not whole_month:
        return 1
    if not usual_fee_cents:
        raise RowProblem(
            "This month's total has no number of sessions: choose the column that counts them, or set your"
            " usual fee in your profile to estimate them"
        )
    low, high = SESSIONS_RANGE
    return min(high, max(low, round(total / usual_fee_cents)))


def _shares(
    amounts: list[tuple[int, str | None]], kinds: list[SessionIncomeKind], count: int
) -> list[tuple[int, SessionIncomeKind, int, str | None]]:
    """(amount, kind, sessions, payer or None for the line's) for each part of a line worth a row.

    A line paid by one payer is one row. Split by payer, its sessions are shared in proportion to each
    payer's money (largest remainder); a payer whose share of sessions rounds to none has its money
    counted with the payer that has the most (a copay with the insurer's payment for one session).
    """
    parts = [(amount, kind, paid_by) for (amount, paid_by), kind in zip(amounts, kinds, strict=True)]
    if len(parts) > 1:
        parts = [part for part in parts if part[0]] or parts[:1]
    sessions_of = [i for i, (_, kind, _) in enumerate(parts) if kind is SessionIncomeKind.SESSION]
    if not sessions_of:
        return [(amount, kind, 0, paid_by) for amount, kind, paid_by in parts]
    money = [max(parts[i][0], 0) for i in sessions_of]
    whole = sum(money) or len(money)
    exact = [count * (m if sum(money) else 1) / whole for m in money]
    shares = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: exact[i] - shares[i], reverse=True)[: count - sum(shares)]:
        shares[i] += 1
    top = sessions_of[max(range(len(shares)), key=lambda i: shares[i])]
    rows: dict[int, list] = {}
    for i, (amount, kind, paid_by) in enumerate(parts):
        share = shares[sessions_of.index(i)] if i in sessions_of else 0
        if kind is SessionIncomeKind.SESSION and not share:
            rows.setdefault(top, [0, kind, 0, parts[top][2]])[0] += amount
            continue
        row = rows.setdefault(i, [0, kind, 0, paid_by])
        row[0] += amount
        row[2] = share
    return [tuple(rows[i]) for i in sorted(rows)]


def _refunded(kept: KeptFile, mapping: Mapping, n: int, currency: str) -> bool:
    """Whether the line's amount is money given back (a canceled session's prepayment refunded, say)."""
    try:
        return sum(amount for amount, _ in _amounts(kept, mapping, n, currency)) < 0
    except RowProblem:
        return False


def _kind(amount: int, status: str, nature: str = "session") -> SessionIncomeKind:
    """A negative amount is a refund or adjustment whatever the status; a missed appointment's a fee; an
    add-on code's charge is income for a session counted on its own line."""
    if amount < 0:
        return SessionIncomeKind.ADJUSTMENT
    if status == "missed":
        return SessionIncomeKind.MISSED
    if nature == "addon":
        return SessionIncomeKind.ADDON
    return SessionIncomeKind.SESSION


def _minutes(kept: KeptFile, mapping: Mapping, n: int, default_minutes: int, service_minutes: str = "") -> int:
    """The row's length: its duration column's, else its service's stated length, else the creator's usual one."""
    if mapping.duration is not None:
        return _parse_minutes(kept.values[mapping.duration][n], kept.headers[mapping.duration])
    return int(service_minutes) if service_minutes.isdigit() else default_minutes


def _payer(kept: str, mapping: Mapping) -> PayerKind:
    """A kept payer value as its kind: self-pay without a payer column, the mapping's choice for one unnamed."""
    if mapping.payer is None:
        return PayerKind.SELF_PAY
    if kept == UNKNOWN_PAYER:
        return mapping.unknown_payer
    return PayerKind(kept)


def _shown(value: str) -> str:
    """The value, quoted, when it is safe to repeat on a page (digits and punctuation only)."""
    return f" “{value}”" if SAFE_TO_ECHO.match(value) else ""


def _parse_date(value: str, column: str, latest: date, formats: tuple[str, ...] = DATE_FORMATS) -> tuple[date, bool]:
    """(the day, False), or (the 1st, True) for a month written alone ("March 2026", "2026-03", "03/2026")."""
    if not value:
        raise RowProblem(f"No date in “{column}”")
    # Dotted numeric dates (03.02.2026) are written day first wherever they are written (Germany,
    # Switzerland, Austria, the Nordics, Eastern Europe).
    dotted = DOTTED_DATE.match(value)
    text = dotted.expand(r"\1/\2/\3") if dotted else " ".join(value.replace(".", " ").split()) if value != "?" else ""
    if dotted:
        formats = ("%d/%m/%Y", "%d/%m/%y")
    text = re.sub(r"\s+\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]m)?$", "", text, flags=re.I)  # "03/05/2026 10:00 AM"
    for fmt in formats:
        try:
            day = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        return _in_range(day, value, latest), False
    for fmt in MONTH_FORMATS:
        try:
            first = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        return _in_range(first, value, latest), True
    raise RowProblem(f"“{column}”{_shown(value)} isn't a date we can read (use e.g. 2026-03-05 or 03/05/2026)")


def _in_range(day: date, value: str, latest: date) -> date:
    if day < EARLIEST_DATE:
        raise RowProblem(f"The date{_shown(value)} is before 2000")
    if day > latest:
        raise RowProblem(f"The date{_shown(value)} is in the future")
    return day


def _parse_fee(value: str, column: str, currency: str) -> int:
    """The row's amount in minor units of `currency`, written as any export writes money; negative for
    a refund or adjustment ("($25.00)", "-25")."""
    if not value:
        raise RowProblem(f"No amount in “{column}”")
    try:
        written = read_written_amount(value)
    except ValueError as exc:
        raise RowProblem(f"“{column}”{_shown(value)} isn't an amount: {exc}") from exc
    if not written.in_currency(currency):
        raise RowProblem(
            f"The amount{_shown(value)} is in {written.currency}; your session income is kept in {currency}"
        )
    minor = written.amount * minor_units(currency)
    if minor != int(minor):
        raise RowProblem(f"The amount{_shown(value)} has more decimals than {currency} amounts have")
    return int(minor)


def _parse_minutes(value: str, column: str) -> int:
    if not value:
        raise RowProblem(f"No duration in “{column}”")
    text = value.strip().lower()
    minutes: int | None = None
    if match := re.fullmatch(r"(\d{1,2}):(\d{2})(?::00)?", text):
        minutes = int(match[1]) * 60 + int(match[2])
    elif match := re.fullmatch(r"(\d{1,3})(?:\.0+)?\s*(?:m|min|mins|minutes?)?\.?", text):
        minutes = int(match[1])
    elif match := re.fullmatch(
        r"(?:(\d{1,2}(?:\.\d+)?)\s*(?:h|hr|hrs|hours?))\s*(?:(\d{1,2})\s*(?:m|min|mins|minutes?))?", text
    ):
        minutes = round(float(match[1]) * 60) + int(match[2] or 0)
    if minutes is None:
        raise RowProblem(f"“{column}”{_shown(value)} isn't a duration (use minutes such as 50, 50 min or 0:50)")
    low, high = MINUTES_RANGE
    if not low <= minutes <= high:
        raise RowProblem(f"The duration{_shown(value)} should be between {low} and {high} minutes")
    return minutes


def _parse_count(value: str, column: str) -> int:
    if not value:
        return 1
    match = re.fullmatch(r"(\d{1,5})(?:\.0+)?", value.strip())
    low, high = SESSIONS_RANGE
    if not match:
        raise RowProblem(f"“{column}”{_shown(value)} isn't a whole number of sessions")
    count = int(match[1])
    if not low <= count <= high:
        raise RowProblem(f"The number of sessions{_shown(value)} should be between {low} and {high}")
    return count
