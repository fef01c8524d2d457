"""The continuing-education acceptance journey: a creator approved by ASWB and NBCC publishes a 3-hour
self-paced course claiming both, a learner holding an LCSW licence completes it, and the certificate PDF
(read back with pypdf), the public verification page and the creator's audit pack all carry what the
bodies ask for."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from courseplatform.extensions import db
from courseplatform.models import AccreditingBody, utcnow

from ..factories import CreatorProfileFactory, UserFactory
from ..factories.certificates import CE_POLICIES, ProviderApprovalFactory, approved_program
from .test_payment_journey import log_in, log_out

PERIOD_FROM, PERIOD_UNTIL = date(2026, 1, 1), date(2028, 12, 31)
LEARNER = "Sam Whitfield-Ng"


def world():
    creator = CreatorProfileFactory(
        user__email="dana@example.org",
        display_name="Dana Reyes",
        credentials="LCSW",
        ce_provider_name="Reyes Clinical Training",
        **CE_POLICIES,
    )
    for body, number in ((AccreditingBody.ASWB, "1473"), (AccreditingBody.NBCC, "7021")):
        ProviderApprovalFactory(
            creator=creator, body=body, provider_number=number, approved_from=PERIOD_FROM, approved_until=PERIOD_UNTIL
        )
    offering = approved_program(
        AccreditingBody.ASWB,
        AccreditingBody.NBCC,
        hours=3,
        questions=2,
        creator=creator,
        title="Grounding in Trauma Work",
        slug="grounding-in-trauma-work",
        price_cents=0,
    )
    UserFactory(email="sam@example.org", name=LEARNER)
    db.session.commit()
    return offering


def test_an_approved_provider_publishes_and_a_licensed_learner_earns_an_auditable_certificate(
    page: Page, live_url: str
):
    offering = world()

    # The creator publishes: every ASWB and NBCC rule holds, so the page says it is published.
    log_in(page, "dana@example.org")
    page.goto(f"/studio/courses/{offering.id}")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("heading", name="Published", exact=True)).to_be_visible()
    log_out(page)

    # The public page states the credit the way the bodies word it.
    page.goto("/courses/grounding-in-trauma-work")
    main = page.locator("main")
    expect(main).to_contain_text("Reyes Clinical Training, provider #1473, is approved as an ACE provider")
    expect(main).to_contain_text("NBCC")

    # The learner enrols, works through the course and passes the post-test.
    log_in(page, "sam@example.org")
    page.goto("/courses/grounding-in-trauma-work")
    page.get_by_role("button", name="Enroll for free").click()
    page.goto("/learn/grounding-in-trauma-work")
    page.get_by_role("link", name="Start the course").first.click()
    page.get_by_role("button", name="Mark complete").click()
    expect(page.locator(".flashes")).to_be_visible()
    page.get_by_role("link", name=re.compile(r"^Next: ")).first.click()
    quiz = page.get_by_role("region", name="Quiz")
    for group in quiz.get_by_role("group").all():
        group.get_by_label("A", exact=True).check()
    quiz.get_by_role("button", name="Submit my answers").click()
    expect(page.locator(".flashes")).to_contain_text("You passed")

    # The evaluation asks about each objective, then the attestation asks for the licence once.
    page.get_by_role("link", name="Complete the evaluation").click()
    expect(page.locator("main")).to_contain_text("Describe three grounding techniques")
    for fieldset in page.locator("fieldset").all():
        fieldset.get_by_text("Agree", exact=True).click()
    page.get_by_label(re.compile("What will you use")).fill("The window-of-tolerance check.")
    page.get_by_role("button", name="Send the evaluation").click()
    expect(page).to_have_url(re.compile(r"/attestation$"))
    page.get_by_label("Profession").select_option(label="Social work (LCSW, LMSW, LSW…)")
    page.get_by_label("Licence", exact=True).fill("LCSW")
    page.get_by_label("Licence number").fill("149.077310")
    page.get_by_label("State or province").fill("Illinois")
    page.get_by_label("I attest to the statement above.").check()
    page.get_by_role("button", name="Sign and get my certificate").click()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download your certificate").first.click()
    with open(download_info.value.path(), "rb") as pdf:
        text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read())).pages).split())
    number = re.search(r"AQ(?:-[0-9A-Z]{4}){3}", text).group(0)
    # The day in the learner's zone (the factory's New York), as the certificate states it: near midnight
    # UTC it is still yesterday there.
    completed = utcnow().astimezone(ZoneInfo("America/New_York")).date()
    for field in (
        LEARNER,  # the participant
        "Licence LCSW 149.077310, Illinois",  # licence number and state
        "Grounding in Trauma Work",  # the title as approved
        f"{completed:%B %-d, %Y}",  # completion date
        "Self-paced",  # format
        "3 CE hours",  # hours
        "Clinical",  # category
        "Dana Reyes, LCSW",  # presenter and credentials
        "Reyes Clinical Training",  # provider
        "provider #1473",  # the ASWB provider number (the LCSW answers to ASWB)
        f"{PERIOD_FROM:%B %-d, %Y}",  # approval period
        f"{PERIOD_UNTIL:%B %-d, %Y}",
        "is approved as an ACE provider",  # the body's statement
        number,  # the unique id
        f"/certificates/{number}",  # where to verify it
    ):
        assert field.lower() in text.lower(), field

    # Anyone can verify it, and sees the same.
    page.goto(f"/certificates/{number}")
    facts = page.locator("main")
    for field in (
        LEARNER,
        "Grounding in Trauma Work",
        "LCSW 149.077310, Illinois",
        "3 CE hours",
        "Dana Reyes, LCSW",
        "Reyes Clinical Training, ASWB ACE provider #1473",
        f"{PERIOD_FROM:%B %-d, %Y}",
        f"{PERIOD_UNTIL:%B %-d, %Y}",
        "is approved as an ACE provider",
        number,
    ):
        expect(facts).to_contain_text(field)

    # The creator's audit pack holds the learner's row, post-test attempt and evaluation.
    log_out(page)
    log_in(page, "dana@example.org")
    answer = page.request.get(f"/studio/courses/{offering.id}/ce/audit-pack.zip")
    assert answer.status == 200
    with zipfile.ZipFile(io.BytesIO(answer.body())) as pack:
        roster = list(csv.DictReader(io.StringIO(pack.read("roster.csv").decode())))
        attempts = list(csv.DictReader(io.StringIO(pack.read("post_test_attempts.csv").decode())))
        evaluations = pack.read("evaluations.csv").decode()
    assert [(row["name"], row["certificate_number"], row["ce_hours"]) for row in roster] == [(LEARNER, number, "3")]
    assert roster[0]["licences"] == roster[0]["certificate_licence"] == "LCSW 149.077310, Illinois"
    assert [(row["name"], row["score_percent"], row["passed"]) for row in attempts] == [(LEARNER, "100", "yes")]
    assert "The window-of-tolerance check." in evaluations
