"""The certificate as a one-page PDF (landscape Letter), drawn with fpdf2's built-in fonts.

The built-in fonts (Times, Helvetica) exist in every PDF reader and need no font file,
but only know the Windows-1252 characters (Western European letters, curly quotes,
dashes). Anything else is written in its nearest Latin form: "Łucja" → "Lucja",
"Дмитрий" → "Dmitriy". The verification page, which is HTML, always shows the name as typed.
"""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import datetime

import segno
from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from ..formatting import zone_or_utc
from ..models import Certificate
from .certificates import CreditTotal, WalletLine, ce_hours_label

ENCODING = "windows-1252"

DEEP = (18, 62, 92)
TEAL = (14, 111, 104)
INK = (27, 43, 56)
SOFT = (77, 95, 108)
ACCENT = (154, 74, 28)
SAND = (245, 241, 234)

PAGE_WIDTH = 279.4  # Letter, landscape, in millimetres
PAGE_HEIGHT = 215.9
TEXT_WIDTH = 220.0

# Lower-case Cyrillic and Greek letters in a plain Latin spelling (capitals are capitalised).
# fmt: off
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya", "є": "ye", "і": "i", "ї": "yi", "ґ": "g", "ў": "u",
}
_GREEK = {
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i", "κ": "k",
    "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s", "ς": "s", "τ": "t",
    "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",
}
# fmt: on
_LATIN_NAME = re.compile(r"^LATIN (CAPITAL|SMALL) (?:LETTER|LIGATURE) ([A-Z ]+?)(?: WITH .*)?$")


def _latin_form(char: str) -> str:
    """The nearest Windows-1252 spelling of one character, "?" when there is none."""
    stripped = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    for candidate in (char, stripped):  # "й" is its own letter, "ά" is "α" with an accent
        lower = candidate.lower()
        for table in (_CYRILLIC, _GREEK):
            if lower in table:
                return table[lower].capitalize() if candidate != lower else table[lower]
    if stripped and _encodable(stripped):
        return stripped
    match = _LATIN_NAME.match(unicodedata.name(char, ""))
    if match:
        letters = match.group(2).split()[-1]  # "DOTLESS I" → "I", "L" (with stroke) → "L", "AE" → "AE"
        if len(letters) <= 2:
            return letters if match.group(1) == "CAPITAL" else letters.lower()
    if unicodedata.category(char).startswith("Z"):
        return " "
    return "?"


def _encodable(text: str) -> bool:
    try:
        text.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """`text` as the built-in PDF fonts can write it (see the module docstring)."""
    text = unicodedata.normalize("NFC", text or "")
    if _encodable(text):
        return text
    text = re.sub("ου", "ou", re.sub("Ου|ΟΥ", "Ou", text))
    return "".join(char if _encodable(char) else _latin_form(char) for char in text)


def completion_date(certificate: Certificate, zone: str) -> str:
    """The day the certificate was issued, in the learner's zone: `November 24, 2026`."""
    issued: datetime = certificate.issued_at.astimezone(zone_or_utc(zone))
    return f"{issued:%B} {issued.day}, {issued.year}"


def creator_line(certificate: Certificate) -> str:
    """`Dana Reyes, LCSW`: the creator with their credentials, when they gave any."""
    if certificate.creator_credentials:
        return f"{certificate.creator_name}, {certificate.creator_credentials}"
    return certificate.creator_name


def certificate_filename(certificate: Certificate) -> str:
    return f"aqueduct-certificate-{certificate.number}.pdf"


class _Certificate(FPDF):
    def centered(self, text: str, style: str, size: float, colour, *, family="Helvetica", height=None, spacing=0.0):
        self.set_font(family, style, size)
        self.set_char_spacing(spacing)
        self.set_text_color(*colour)
        self.set_x(0)
        self.cell(PAGE_WIDTH, height or size * 0.5, printable(text), align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_char_spacing(0)

    def fit_size(self, text: str, family: str, style: str, size: float, width: float, smallest: float) -> float:
        """The largest font size, from `size` down to `smallest`, at which `text` fits on one line."""
        self.set_font(family, style, size)
        while size > smallest and self.get_string_width(printable(text)) > width:
            size -= 0.5
            self.set_font(family, style, size)
        return size

    def paragraph(
        self,
        text: str,
        family: str,
        style: str,
        size: float,
        colour,
        width: float,
        smallest: float,
        *,
        max_lines: int | None = None,
        max_height: float | None = None,
    ):
        """Centred lines, shrinking the type until they fit in `max_lines` lines or `max_height` millimetres."""
        text = printable(text)
        while True:
            self.set_font(family, style, size)
            lines = len(self.multi_cell(width, size * 0.45, text, align=Align.C, dry_run=True, output="LINES"))
            fits = (max_lines is None or lines <= max_lines) and (
                max_height is None or lines * size * 0.45 <= max_height
            )
            if fits or size <= smallest:
                break
            size -= 0.5
        self.set_text_color(*colour)
        self.set_x((PAGE_WIDTH - width) / 2)
        self.multi_cell(width, size * 0.45, text, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def ce_lines(certificate: Certificate) -> list[str]:
    """What the accrediting body asks a CE certificate to state beyond hours and statement: the learner's
    licence, the format and category, the presenters, and the provider with its number and approval period."""
    lines = []
    facts = [
        f"Licence {certificate.learner_licence}" if certificate.learner_licence else "",
        certificate.ce_format,
        certificate.ce_category,
    ]
    if any(facts):
        lines.append(" · ".join(fact for fact in facts if fact))
    if certificate.presenters:
        lines.append(f"Presented by {certificate.presenters}")
    if certificate.provider_name:
        provider = certificate.provider_name
        if certificate.ce_body and certificate.provider_number:
            provider += f", {certificate.ce_body_label} provider #{certificate.provider_number}"
        if certificate.approval_period:
            provider += f", approval period {certificate.approval_period}"
        lines.append(provider)
    return lines


def _new_document() -> _Certificate:
    pdf = _Certificate(orientation="L", unit="mm", format="Letter")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_page()
    return pdf


# The statement sits between the brand at the top and the facts along the foot.
SPACE_TOP, SPACE_BOTTOM = 36.0, 160.0
FOOTER_TOP = 168.0  # the date of completion and the certificate number
# The smallest type an approval statement is printed in on the certificate; longer ones go on a page of their own.
SMALLEST_APPROVAL = 5
OVERLEAF = "The approval statements are printed on the next page."


def _approval_fits(pdf: _Certificate, text: str, room: float | None) -> bool:
    """Whether the statement, in the smallest type, stays above the footer (it may use the gap above it)."""
    if room is None:
        return False
    pdf.set_font("Helvetica", "", SMALLEST_APPROVAL)
    lines = len(pdf.multi_cell(200, SMALLEST_APPROVAL * 0.45, printable(text), dry_run=True, output="LINES"))
    return lines * SMALLEST_APPROVAL * 0.45 <= room + (FOOTER_TOP - 2 - SPACE_BOTTOM)


def _statement(pdf: _Certificate, certificate: Certificate, top: float, approval_room: float | None = None) -> float:
    """Who completed what, offered by whom, for how many hours, from `top` down; returns where it ends.

    Without `approval_room` (millimetres for the approval statement) the statement is left out.
    """
    pdf.set_y(top)
    pdf.centered("Certificate of Completion", "B", 32, DEEP, family="Times", height=14)
    ce = bool(certificate.ce_minutes)
    if ce:
        pdf.centered("Continuing Education", "", 11, SOFT, spacing=0.8, height=7)
    pdf.ln(6 if ce else 10)
    pdf.centered("This certifies that", "", 12, SOFT)
    pdf.ln(3)
    name = certificate.learner_name
    size = pdf.fit_size(name, "Times", "B", 30, TEXT_WIDTH, 20)
    if pdf.get_string_width(printable(name)) <= TEXT_WIDTH:
        pdf.centered(name, "B", size, INK, family="Times", height=13)
    else:  # a very long name takes two lines
        pdf.paragraph(name, "Times", "B", 20, INK, TEXT_WIDTH, 12, max_lines=2)
    pdf.set_draw_color(*SOFT)
    pdf.set_line_width(0.3)
    pdf.line((PAGE_WIDTH - 150) / 2, pdf.get_y() + 1, (PAGE_WIDTH + 150) / 2, pdf.get_y() + 1)
    pdf.ln(6)
    pdf.centered("has completed", "", 12, SOFT)
    pdf.ln(2)
    pdf.paragraph(certificate.offering_title, "Times", "B", 20, DEEP, TEXT_WIDTH, 14, max_lines=2)
    pdf.ln(2)
    offered_by = f"offered by {creator_line(certificate)}"
    pdf.centered(offered_by, "", pdf.fit_size(offered_by, "Helvetica", "", 12, TEXT_WIDTH, 8), INK, height=7)
    if ce:
        pdf.ln(3)
        pdf.centered(f"{ce_hours_label(certificate.ce_minutes)} awarded", "B", 14, ACCENT, height=8)
        for line in ce_lines(certificate):
            # Wrapped, never run past the frame: four presenters with credentials make a long line.
            pdf.paragraph(line, "Helvetica", "", 9, INK, TEXT_WIDTH, 7, max_lines=2)
        if certificate.ce_approval_statement and approval_room is not None:
            pdf.ln(1)
            fits = _approval_fits(_new_document(), certificate.ce_approval_statement, approval_room)
            pdf.paragraph(
                certificate.ce_approval_statement if fits else OVERLEAF,
                "Helvetica",
                "",
                9,
                SOFT,
                200,
                SMALLEST_APPROVAL,
                max_lines=4,
                max_height=approval_room,
            )
    return pdf.get_y()


def certificate_pdf(certificate: Certificate, *, zone: str, verify_url: str) -> bytes:
    """The certificate as PDF bytes: learner, offering, creator, CE hours, date, number and where to verify it."""
    pdf = _new_document()
    pdf.set_title(printable(f"Certificate {certificate.number}: {certificate.offering_title}"))
    pdf.set_author("Aqueduct")
    pdf.set_creator("Aqueduct")
    pdf.set_subject(printable(f"{certificate.learner_name}, {certificate.offering_title}"))

    # Frame: a deep-blue rule with a thin teal one inside it, on a sand-coloured margin.
    pdf.set_fill_color(*SAND)
    pdf.rect(0, 0, PAGE_WIDTH, PAGE_HEIGHT, style="F")
    pdf.set_fill_color(255, 255, 255)
    pdf.set_draw_color(*DEEP)
    pdf.set_line_width(1.0)
    pdf.rect(9, 9, PAGE_WIDTH - 18, PAGE_HEIGHT - 18, style="DF")
    pdf.set_draw_color(*TEAL)
    pdf.set_line_width(0.3)
    pdf.rect(12.5, 12.5, PAGE_WIDTH - 25, PAGE_HEIGHT - 25)

    pdf.set_y(24)
    pdf.centered("Aqueduct", "B", 12, TEAL, spacing=1.5)
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.6)
    pdf.line(PAGE_WIDTH / 2 - 8, pdf.get_y() + 2, PAGE_WIDTH / 2 + 8, pdf.get_y() + 2)

    # Measured first on a scratch page, then drawn in the middle of its space.
    room = SPACE_BOTTOM - SPACE_TOP
    approval_room = room - _statement(_new_document(), certificate, 0) - 1
    height = _statement(_new_document(), certificate, 0, approval_room)
    _statement(pdf, certificate, SPACE_TOP + max(0.0, (room - height) / 2), approval_room)

    # The facts a verifier looks for, along the foot of the page.
    columns = [
        ("Date of completion", completion_date(certificate, zone)),
        ("Certificate number", certificate.number),
    ]
    top = FOOTER_TOP
    column_width = 90
    left = (PAGE_WIDTH - column_width * len(columns)) / 2
    for index, (label, value) in enumerate(columns):
        x = left + index * column_width
        pdf.set_xy(x, top)
        pdf.set_font("Helvetica", "", 9)
        pdf.set_text_color(*SOFT)
        pdf.cell(column_width, 5, label.upper(), align=Align.C, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", "B", 12)
        pdf.set_text_color(*INK)
        pdf.cell(column_width, 7, printable(value), align=Align.C)
    pdf.set_draw_color(*TEAL)
    pdf.line(left + column_width, top, left + column_width, top + 12)

    pdf.set_y(187)
    pdf.set_x(0)
    pdf.set_font("Helvetica", "", 9)
    pdf.set_text_color(*SOFT)
    lead = "Verify this certificate at "
    url = printable(verify_url)
    width = pdf.get_string_width(lead)
    pdf.set_font("Helvetica", "B", 9)
    width += pdf.get_string_width(url)
    pdf.set_x((PAGE_WIDTH - width) / 2)
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(pdf.get_string_width(lead), 5, lead)
    pdf.set_font("Helvetica", "B", 9)
    pdf.set_text_color(*TEAL)
    pdf.cell(pdf.get_string_width(url), 5, url, link=verify_url)
    # The same address as a QR code, for a board checking a printed certificate with a phone.
    pdf.image(verification_qr(verify_url), x=QR_LEFT, y=QR_TOP, w=QR_SIZE, h=QR_SIZE, link=verify_url)
    overleaf = certificate.ce_minutes and certificate.ce_approval_statement
    if overleaf and not _approval_fits(_new_document(), certificate.ce_approval_statement, approval_room):
        pdf.set_auto_page_break(True, margin=20)
        pdf.add_page()
        pdf.set_margins(30, 24, 30)
        pdf.set_y(24)
        pdf.centered(f"Certificate {certificate.number}: continuing education approvals", "B", 12, DEEP, height=10)
        pdf.set_font("Helvetica", "", 10)
        pdf.set_text_color(*INK)
        pdf.multi_cell(0, 5, printable(certificate.ce_approval_statement))
    return bytes(pdf.output())


QR_SIZE = 22.0  # millimetres, quiet zone included
QR_LEFT, QR_TOP = PAGE_WIDTH - 12.5 - 4 - QR_SIZE, 162.0


def verification_qr(url: str) -> io.BytesIO:
    """The verification address as a QR code (PNG, black on white, medium error correction)."""
    image = io.BytesIO()
    segno.make(url, error="m").save(image, kind="png", scale=8, border=2)
    image.seek(0)
    return image


# ---------------------------------------------------------------------------
# The CE transcript: every certificate on one document, for a licence renewal


def ce_transcript_pdf(
    name: str, licences: list[str], totals: list[CreditTotal], lines: list[WalletLine], *, made_on: str, verify_at: str
) -> bytes:
    """The learner's CE certificates as a transcript (landscape Letter): hours by body and category, then a
    line per certificate with what a board asks for; `verify_at` says where each number can be checked."""
    pdf = FPDF(orientation="L", unit="mm", format="Letter")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_margins(14, 14, 14)
    pdf.set_auto_page_break(True, margin=14)
    pdf.set_title(printable(f"Continuing education transcript: {name}"))
    pdf.set_author("Aqueduct")
    pdf.set_creator("Aqueduct")
    pdf.add_page()

    def text(value: str, style: str = "", size: float = 10, colour=INK, height: float = 5.5) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.set_text_color(*colour)
        pdf.multi_cell(0, height, printable(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    text("Aqueduct", "B", 11, TEAL)
    pdf.set_font("Times", "B", 22)
    pdf.set_text_color(*DEEP)
    pdf.multi_cell(0, 11, "Continuing education transcript", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    text(name, "B", 14, INK, 8)
    if licences:
        text("Licences: " + "; ".join(licences), "", 10, SOFT)
    text(f"Made on {made_on}. Every certificate below stands; check any number at {verify_at}.", "", 9, SOFT)
    pdf.ln(4)

    total_minutes = sum(total.minutes for total in totals)
    text(f"{ce_hours_label(total_minutes)} in all" if total_minutes else "No CE certificates yet.", "B", 12, ACCENT)
    if totals:
        pdf.set_font("Helvetica", "", 9)
        pdf.set_text_color(*INK)
        with pdf.table(
            col_widths=(70, 70, 40, 30), width=210, align="LEFT", text_align="LEFT", line_height=5.5
        ) as table:
            table.row(["Body", "Category", "Certificates", "Hours"])
            for total in totals:
                table.row(
                    [
                        printable(total.body or "No body named"),
                        printable(total.category or "-"),
                        str(total.certificates),
                        f"{total.minutes / 60:g}",
                    ]
                )
        pdf.ln(5)

    if lines:
        pdf.set_font("Helvetica", "", 8)
        widths = (22, 62, 12, 22, 26, 26, 46, 35)
        with pdf.table(col_widths=widths, width=sum(widths), align="LEFT", text_align="LEFT", line_height=4.5) as table:
            table.row(["Completed", "Program", "Hours", "Body", "Category", "Format", "Provider", "Certificate"])
            for line in lines:
                provider = line.provider + (f", #{line.provider_number}" if line.provider_number else "")
                table.row(
                    [
                        printable(value)
                        for value in (
                            line.completed_on, line.title, line.hours, line.body or "-", line.category or "-",
                            line.format or "-", provider or "-", line.number,
                        )
                    ]
                )  # fmt: skip
    return bytes(pdf.output())
