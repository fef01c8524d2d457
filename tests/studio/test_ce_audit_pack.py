"""The audit pack: an approved creator's 3-hour self-paced course, claimed from ASWB and NBCC, completed by an
LCSW; the pack holds the learner's row, attempts, evaluation, certificate and trail, and the program as it
stood when published and after it changed."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from courseplatform.continuing_education import snapshot_ce
from courseplatform.extensions import db
from courseplatform.learning.certificates import issue_certificate, submit_evaluation
from courseplatform.models import AccreditingBody, LearnerLicence, LessonKind, Profession, QuizAttempt
from courseplatform.studio.offerings.services import publish

from ..factories import PASSWORD
from ..factories.certificates import RATINGS, approved_program, enrol, finish


def rows(pack: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(pack.read(name).decode())))


def test_the_audit_pack_holds_every_record_of_the_program(web, client, app, count_queries):
    offering = approved_program(AccreditingBody.ASWB, AccreditingBody.NBCC, title="Grounding Skills", slug="grounding")
    publish(offering)
    offering.ce_objectives += "\nName the limits of grounding"
    snapshot_ce(offering, "CE details changed")
    enrollment = finish(enrol(offering, user__name="Jordan Lee", user__email="jordan@example.org"))
    db.session.add(
        LearnerLicence(
            user_id=enrollment.user_id,
            profession=Profession.SOCIAL_WORK,
            licence_type="LCSW",
            number="149.012345",
            jurisdiction="Illinois",
        )
    )
    quiz = next(lesson for lesson in offering.sections[0].lessons if lesson.kind is LessonKind.QUIZ)
    db.session.add(
        QuizAttempt(enrollment_id=enrollment.id, lesson_id=quiz.id, attempt_number=1, score_percent=70, passed=False)
    )
    db.session.add(
        QuizAttempt(enrollment_id=enrollment.id, lesson_id=quiz.id, attempt_number=2, score_percent=90, passed=True)
    )
    submit_evaluation(enrollment, {key: int(value) for key, value in RATINGS.items()}, "Useful scripts",
                      objectives=[(text, 5) for text in offering.objectives])  # fmt: skip
    certificate = issue_certificate(enrollment)
    db.session.commit()

    web.login(offering.creator.user.email, PASSWORD)
    with count_queries() as counter:
        response = client.get(f"/studio/courses/{offering.id}/ce/audit-pack.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert 'filename="audit-pack-grounding.zip"' in response.headers["Content-Disposition"]
    pack = zipfile.ZipFile(io.BytesIO(response.data))
    (learner,) = rows(pack, "roster.csv")
    assert (learner["name"], learner["licences"], learner["ce_hours"], learner["certificate_number"]) == (
        "Jordan Lee",
        "LCSW 149.012345, Illinois",
        "3",
        certificate.number,
    )
    assert [(a["attempt"], a["score_percent"], a["passed"]) for a in rows(pack, "post_test_attempts.csv")] == [
        ("1", "70", "no"),
        ("2", "90", "yes"),
    ]
    (evaluation,) = rows(pack, "evaluations.csv")
    assert evaluation["comments"] == "Useful scripts" and evaluation["objective_1"] == "5"
    assert "1 evaluation(s)" in pack.read("evaluation_summary.txt").decode()
    (issued,) = rows(pack, "certificates.csv")
    assert issued["licence"] == "LCSW 149.012345, Illinois" and issued["body"] == "aswb"
    assert "approved as an ACE provider" in issued["statement"]
    snapshots = sorted(name for name in pack.namelist() if name.startswith("program/") and name != "program/now.json")
    published, changed = (json.loads(pack.read(name)) for name in snapshots)
    assert published["occasion"] == "published" and len(published["objectives"]) == 3
    assert changed["occasion"] == "CE details changed" and changed["objectives"][-1] == "Name the limits of grounding"
    assert {approval["body"] for approval in published["approvals"]} == {"ASWB ACE", "NBCC"}
    assert json.loads(pack.read("program/now.json"))["presenters"] == ["Dana Reyes, LCSW"]
    assert counter.count < 30


def test_another_creators_audit_pack_is_not_found(web, client, app):
    offering = approved_program(AccreditingBody.ASWB)
    other = approved_program(AccreditingBody.ASWB)
    db.session.commit()
    web.login(other.creator.user.email, PASSWORD)
    assert client.get(f"/studio/courses/{offering.id}/ce/audit-pack.zip").status_code == 404
