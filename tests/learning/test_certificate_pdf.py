"""The certificate PDF: every field a licensing board looks for, names in any alphabet, and only for its holder."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import Image
from pypdf import PdfReader

from courseplatform.learning.certificate_pdf import certificate_pdf, printable, verification_qr
from courseplatform.learning.certificates import issue_certificate
from courseplatform.models import AccreditingBody, OfferingStatus

from ..factories import PASSWORD
from ..factories.certificates import APPROVAL, approved_program, ce_offering, enrol, finish, revoke


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1, "the certificate fits on one page"
    page = reader.pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    assert (round(width), round(height)) == (792, 612), "landscape Letter"
    return " ".join(page.extract_text().split())


@pytest.fixture
def certificate():
    offering = ce_offering(ce_minutes=180, slug="grounding", title="Grounding Skills for Clinicians")
    enrollment = finish(enrol(offering))
    enrollment.user.time_zone = "America/Los_Angeles"
    # 03:30 UTC on the 25th is still the evening of the 24th in California.
    return issue_certificate(enrollment, now=datetime(2026, 11, 25, 3, 30, tzinfo=UTC))


def test_the_pdf_states_every_field(web, client, certificate):
    web.login(certificate.enrollment.user.email, PASSWORD)
    response = client.get("/learn/grounding/certificate.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="aqueduct-certificate-{certificate.number}.pdf"'
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    text = text_of(response.data)
    for expected in (
        "Aqueduct",
        "Certificate of Completion",
        "Zoë Lucja O’Brien",
        "Grounding Skills for Clinicians",
        "Dana Reyes, LCSW",
        "3 CE hours",
        "Approved by the Board of Behavioral Sciences, provider #1234.",
        "November 24, 2026",
        certificate.number,
        f"http://aqueduct.test/certificates/{certificate.number}",
    ):
        assert expected in text, f"{expected!r} is missing from {text!r}"


def test_the_whole_approval_statement_is_printed(app, certificate):
    with app.test_request_context():
        text = text_of(certificate_pdf(certificate, zone="UTC", verify_url="https://example.org/c/1"))
    assert APPROVAL in text


def test_fractional_hours_read_as_decimals(app):
    offering = ce_offering(ce_minutes=90, slug="brief")
    certificate = issue_certificate(finish(enrol(offering)))
    with app.test_request_context():
        assert "1.5 CE hours" in text_of(certificate_pdf(certificate, zone="UTC", verify_url="https://x.test/c"))


def test_a_certificate_of_completion_states_no_hours(app):
    offering = ce_offering(ce_minutes=None, slug="burnout", title="Burnout First Aid")
    certificate = issue_certificate(finish(enrol(offering)))
    with app.test_request_context():
        text = text_of(certificate_pdf(certificate, zone="UTC", verify_url="https://x.test/c"))
    assert "Burnout First Aid" in text
    assert "CE hour" not in text
    assert "Approved by" not in text


@pytest.mark.parametrize(
    ("name", "printed"),
    [
        ("Zoë Ångström-Nuñez", "Zoë Ångström-Nuñez"),
        ("Łucja Wałęsa", "Lucja Walesa"),
        ("Seán O’Brien", "Seán O’Brien"),
        ("Дмитрий Иванов", "Dmitriy Ivanov"),
        ("Nguyễn Thị Hương", "Nguyen Thi Huong"),
        ("Şebnem Yıldız", "Sebnem Yildiz"),
    ],
)
def test_names_beyond_latin_1_print_in_their_nearest_latin_form(app, name, printed):
    offering = ce_offering(slug=f"names-{abs(hash(name)) % 10_000}")
    enrollment = enrol(offering, user__name=name)
    certificate = issue_certificate(finish(enrollment))
    with app.test_request_context():
        text = text_of(certificate_pdf(certificate, zone="UTC", verify_url="https://x.test/c"))
    assert printed in text
    assert certificate.learner_name == name, "the record keeps the name as typed"


def test_a_name_with_no_latin_form_still_gives_a_certificate():
    assert printable("王芳 Chen") == "?? Chen"


def test_a_very_long_name_title_and_approval_statement_still_fit_on_one_page(app):
    title = "Trauma-Informed Care for Adolescents and Families: Assessment, Stabilisation and Repair, Part Two"
    offering = ce_offering(slug="long", title=title)
    offering.ce_approval_statement = ("Approved by the Board, provider #1234. " * 60)[:2000]
    enrollment = enrol(offering, user__name="Maximiliana Alexandrina Montgomery-Featherstonehaugh")
    certificate = issue_certificate(finish(enrollment))
    with app.test_request_context():
        text = text_of(certificate_pdf(certificate, zone="UTC", verify_url="https://x.test/c"))
    assert "Featherstonehaugh" in text and "Part Two" in text
    assert text.count("provider #1234") > 40


def test_another_learner_cannot_download_someone_elses_certificate(web, client, certificate):
    classmate = enrol(certificate.enrollment.offering, user__name="Pat Classmate")
    web.login(classmate.user.email, PASSWORD)
    response = client.get("/learn/grounding/certificate.pdf")
    assert response.status_code == 302, "they have no certificate of their own yet"
    assert b"%PDF" not in response.data
    web.logout()
    stranger = enrol(ce_offering(slug="other"), user__name="Sam Stranger")
    web.login(stranger.user.email, PASSWORD)
    assert client.get("/learn/grounding/certificate.pdf").status_code == 404


def test_a_revoked_learner_can_no_longer_download_the_pdf(web, client, certificate):
    web.login(certificate.enrollment.user.email, PASSWORD)
    assert client.get("/learn/grounding/certificate.pdf").status_code == 200
    revoke(certificate.enrollment)
    assert client.get("/learn/grounding/certificate.pdf").status_code == 404


def test_downloading_needs_a_login(client, certificate):
    response = client.get("/learn/grounding/certificate.pdf")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_each_claimed_bodys_statement_is_printed_in_full(app):
    offering = approved_program(AccreditingBody.ASWB, AccreditingBody.NBCC, status=OfferingStatus.PUBLISHED)
    certificate = issue_certificate(finish(enrol(offering)))
    with app.test_request_context():
        text = text_of(certificate_pdf(certificate, zone="UTC", verify_url="https://example.org/c/1"))
    assert "Dana Reyes, provider #" in text and "Social workers completing this course receive 3 continuing" in text
    assert (
        "Dana Reyes is solely responsible for all aspects of the programs. This program offers 3 clock hours." in text
    )


def test_the_certificate_carries_a_qr_code_of_its_verification_address(app, certificate):
    url = f"https://aqueduct.test/certificates/{certificate.number}"
    with app.test_request_context():
        pdf = certificate_pdf(certificate, zone="UTC", verify_url=url)
    (embedded,) = PdfReader(io.BytesIO(pdf)).pages[0].images
    expected = Image.open(verification_qr(url)).convert("1")
    assert embedded.image.convert("1").size == expected.size
    assert embedded.image.convert("1").tobytes() == expected.tobytes()
    # And the matrix is the address's own: another number gives another code.
    other = Image.open(verification_qr(url.replace(certificate.number, "AQ-2222-2222-2222"))).convert("1")
    assert other.tobytes() != expected.tobytes()
