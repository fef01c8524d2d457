"""One reader for uploaded CSV files, as spreadsheets and practice systems really write them."""

from __future__ import annotations

import pytest

from courseplatform.csv_uploads import CsvRefused, Refusal, decode, read_upload, sniff_delimiter
from courseplatform.studio.learners.services import LearnerError, read_learner_list

MB = 1024 * 1024


def rows_of(data: bytes) -> list[tuple[int, list[str]]]:
    return list(read_upload(data, max_bytes=MB).rows())


def test_excel_europe_utf8_with_bom_crlf_and_semicolons():
    data = "\ufeffDate;Client;Fee\r\n03.02.2026;Zoë Brandt;90,00 €\r\n04.02.2026;Jürgen Ölz;1.234,50 €\r\n".encode()
    assert rows_of(data) == [
        (1, ["Date", "Client", "Fee"]),
        (2, ["03.02.2026", "Zoë Brandt", "90,00 €"]),
        (3, ["04.02.2026", "Jürgen Ölz", "1.234,50 €"]),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Date,Client,Notes,Fee\r\n2026-02-03,Zoë Brandt,“Follow-up” – client’s café talk,€90.00\r\n",
        "Date;Client;Notes;Fee\r\n03/02/2026;Hélène Côté;Séance de suivi, très bien;90,00 €\r\n",
        "Date;Client;Fee\r\n03.02.2026;Jürgen Ölz;1.234,50 €\r\n",
    ],
)
def test_excel_windows_cp1252_is_read_as_written(text):
    # Each reads as well in other code pages (charset-normalizer alone took the French row for cp1250,
    # "très" as "trčs", and the German one for the Baltic DOS page): the commonest writer wins.
    uploaded = read_upload(text.encode("cp1252"), max_bytes=MB)
    assert uploaded.encoding == "cp1252" and uploaded.text == text


def test_teams_utf16_with_tabs_after_a_title_line():
    text = "1. Summary\nMeeting title\tGroup\n\n2. Participants\nName\tDuration\tEmail\nAna\t40m\tana@example.org\n"
    uploaded = read_upload(text.encode("utf-16"), max_bytes=MB)
    assert uploaded.delimiter == "\t" and uploaded.encoding == "utf-16"
    assert (6, ["Ana", "40m", "ana@example.org"]) in list(uploaded.rows())


def test_a_cell_over_several_lines_is_one_row_as_a_spreadsheet_numbers_it():
    data = b'Date,Note,Fee\n2026-02-03,"first line\nsecond line\nthird line",90\n2026-02-04,plain,80\n'
    assert [number for number, _ in rows_of(data)] == [1, 2, 3]
    assert rows_of(data)[1][1][1] == "first line\nsecond line\nthird line"


def test_blank_rows_keep_their_numbers():
    assert [(n, row) for n, row in rows_of(b"a,b\n\n1,2\n")] == [(1, ["a", "b"]), (2, []), (3, ["1", "2"])]


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("Date,Fee\n2026-01-01,90\n", ","),
        ("Date;Fee\n2026-01-01;90,00\n2026-01-02;80,50\n", ";"),  # decimal commas in a semicolon file
        ('Title,Fee\n"Grief; loss; and more",90\n', ","),  # semicolons inside quotes
        ('Title;Fee\n"Grief, loss, and more";90\n', ";"),  # commas inside quotes
        ("Date\tFee\n2026-01-01\t90\n", "\t"),
        ("Date|Fee\n2026-01-01|90\n", "|"),
        ("ana@example.org\nben@example.org\n", ","),  # one column
    ],
)
def test_the_delimiter_is_the_one_the_rows_use(text, delimiter):
    assert sniff_delimiter(text) == delimiter


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PK\x03\x04" + b"\x00" * 40, Refusal.NOT_CSV),  # an .xlsx or .numbers file
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, Refusal.NOT_CSV),  # an old .xls
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", Refusal.NOT_CSV),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", Refusal.NOT_CSV),
        (b"", Refusal.EMPTY),
        (b" \r\n\t\r\n", Refusal.EMPTY),
        (b"\xef\xbb\xbf", Refusal.EMPTY),
        (b"a" * (MB + 1), Refusal.TOO_LARGE),
    ],
)
def test_what_is_not_a_csv_is_refused_with_its_reason(data, reason):
    with pytest.raises(CsvRefused) as refused:
        read_upload(data, max_bytes=MB)
    assert refused.value.reason is reason


def test_a_nul_byte_deep_in_the_file_is_refused_at_its_row():
    data = b"Date,Fee\n" + b"2026-01-01,90\n" * 500 + b"2026-01-02,8\x000\n"
    with pytest.raises(CsvRefused) as refused:
        read_upload(data, max_bytes=MB)
    assert refused.value.reason is Refusal.MALFORMED and refused.value.row == 502


def test_cyrillic_windows_exports_are_read_as_written():
    text = "Дата;Клиент;Сумма\r\n03.02.2026;Иван Петров;1500\r\n"
    assert decode(text.encode("cp1251")) == (text, "cp1251")


def test_utf8_is_preferred_to_a_guess():
    assert decode("Zoë".encode()) == ("Zoë", "utf-8")


def test_a_learner_list_names_rows_as_the_spreadsheet_shows_them():
    data = b'Name,Email\n"Ana\nRuiz",ana@example.org\nBen,not-an-address\n'
    people, report = read_learner_list(data)
    assert [person.email for person in people] == ["ana@example.org"]
    assert [(rejected.line, rejected.value) for rejected in report.rejected] == [(3, "not-an-address")]


def test_a_learner_list_that_is_a_spreadsheet_says_how_to_export_it():
    with pytest.raises(LearnerError, match="export the sheet as “CSV UTF-8”"):
        read_learner_list(b"PK\x03\x04" + b"\x00" * 100)


def test_tags_with_semicolons_in_a_comma_list_do_not_change_its_delimiter():
    rows = b"".join(b"p%d@example.com,Person %d,member;vip;2024 cohort;spring;alumni\n" % (i, i) for i in range(5))
    people, report = read_learner_list(b"Email,Name,Tags\n" + rows)
    assert len(people) == 5 and not report.rejected
