"""A request is a unit of work: kept whole when it succeeds, not at all when it fails, and what waits
for the commit (a stored object's deletion, an `on_commit` action) happens only after it committed."""

from __future__ import annotations

import threading
from html import unescape
from io import BytesIO

import pytest
import sqlalchemy as sa
from flask import abort, flash, redirect, render_template_string
from sqlalchemy import event

from courseplatform.extensions import Session, db
from courseplatform.integrations.storage import get_storage
from courseplatform.models import Job, MediaAsset, MediaStatus, SessionIncome, User
from courseplatform.unit_of_work import on_commit

from .factories import PASSWORD, CreatorProfileFactory, OfferingFactory
from .helpers import committed_application

PDF = b"%PDF-1.4\n%%EOF\n"
ERROR_PAGE = "Something went wrong on our side"


# ---------------------------------------------------------------------------
# The app's own views, on the shared test database
# ---------------------------------------------------------------------------


@pytest.fixture
def local_storage(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "local")
    monkeypatch.setitem(app.config, "MEDIA_ROOT", str(tmp_path / "media"))
    return get_storage()


@pytest.fixture
def spare_file(local_storage):
    """A creator's stored file that nothing uses, so the studio's Files page may delete it."""
    offering = OfferingFactory()
    owner = offering.creator.user
    key = f"uploads/{owner.id}/spare.pdf"
    local_storage.save(key, BytesIO(PDF), "application/pdf")
    asset = MediaAsset(
        owner_id=owner.id,
        storage_key=key,
        original_name="spare.pdf",
        content_type="application/pdf",
        size_bytes=len(PDF),
        status=MediaStatus.READY,
    )
    db.session.add(asset)
    db.session.flush()
    return asset


@pytest.fixture
def commit_fails():
    """Make the next commit break a unique key (another account took the e-mail address at the last moment)."""

    def take_the_address(session):
        event.remove(Session, "before_commit", take_the_address)
        taken = session.scalar(sa.select(User.email).limit(1))
        session.add(User(email=taken, name="Someone else", password_hash="!"))

    def arm():
        event.listen(Session, "before_commit", take_the_address)

    yield arm
    if event.contains(Session, "before_commit", take_the_address):
        event.remove(Session, "before_commit", take_the_address)


def delete_from_files_page(web, asset_id: int):
    return web.submit(f"/studio/files/{asset_id}/delete", {}, form_url="/studio/files", follow_redirects=False)


def storage_deletions() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.kind == "storage.delete"))


def test_deleting_a_file_removes_its_object_once_the_row_is_gone(web, spare_file, local_storage):
    asset_id, key = spare_file.id, spare_file.storage_key
    web.login(spare_file.owner.email, PASSWORD)

    answer = delete_from_files_page(web, asset_id)

    assert answer.status_code == 302
    db.session.expire_all()
    assert db.session.get(MediaAsset, asset_id) is None
    assert local_storage.head(key) is None
    assert "“spare.pdf” was deleted." in unescape(web.client.get("/studio/files").get_data(as_text=True))


def test_a_commit_that_fails_keeps_the_file_and_its_object_and_answers_with_the_error_page(
    web, spare_file, local_storage, commit_fails
):
    asset_id, key = spare_file.id, spare_file.storage_key
    web.login(spare_file.owner.email, PASSWORD)
    jobs_before = storage_deletions()
    commit_fails()

    answer = delete_from_files_page(web, asset_id)

    assert answer.status_code == 500
    assert ERROR_PAGE in answer.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(MediaAsset, asset_id) is not None
    assert local_storage.head(key).size == len(PDF), "the object is deleted only after a commit"
    assert storage_deletions() == jobs_before
    page = unescape(web.client.get("/studio/files").get_data(as_text=True))
    assert "was deleted" not in page, "the browser isn't told of work that was rolled back"
    assert "spare.pdf" in page


def test_a_view_that_fails_after_writing_keeps_nothing(web, monkeypatch):
    CreatorProfileFactory(user__email="maya@example.org")
    web.login("maya@example.org", PASSWORD)
    from courseplatform.revenue import sessions

    add_entry = sessions.add_entry

    def add_then_fail(profile, values):
        add_entry(profile, values)  # the row is written (flushed)…
        raise RuntimeError("…and then something breaks")

    monkeypatch.setattr(sessions, "add_entry", add_then_fail)
    values = {"session_date": "2026-03-05", "sessions": "3", "minutes_each": "50", "amount": "450"}

    answer = web.submit("/studio/sessions", {**values, "payer_kind": "self_pay"}, follow_redirects=False)

    assert answer.status_code == 500
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionIncome)) == 0


# ---------------------------------------------------------------------------
# The mechanism itself, on an application whose commits are real
# ---------------------------------------------------------------------------


class Actions:
    def __init__(self) -> None:
        self.ran: list[str] = []

    def register(self, name: str) -> None:
        on_commit(lambda: self.ran.append(name))


@pytest.fixture(scope="module")
def uow_app(tmp_path_factory):
    with committed_application(tmp_path_factory, "unit_of_work", WTF_CSRF_ENABLED=False) as application:
        application.extensions["test_actions"] = actions = Actions()

        def write(email: str) -> None:
            db.session.add(User(email=email, name="Written", password_hash="!"))
            db.session.flush()
            actions.register(email)

        @application.post("/uow/answer/<int:code>/<email>")
        def answer_with(code: int, email: str):
            write(email)
            if code in (301, 302, 303):
                flash("Saved.", "success")
                return redirect("/uow/page", code=code)
            return render_template_string("{{ email }}", email=email), code

        @application.post("/uow/raise/<email>")
        def raise_after_writing(email: str):
            write(email)
            raise RuntimeError("the view breaks after writing")

        @application.post("/uow/abort/<email>")
        def abort_after_writing(email: str):
            write(email)
            abort(404)

        @application.post("/uow/savepoint/<email>")
        def savepoint(email: str):
            write(email)
            try:
                with db.session.begin_nested():
                    write("inner-" + email)
                    raise ValueError("undo the inner part only")
            except ValueError:
                pass
            return "kept the outer part"

        @application.post("/uow/duplicate/<email>")
        def duplicate(email: str):
            actions.register("duplicate")
            db.session.add(User(email=email, name="Twin", password_hash="!"))  # flushed by the commit
            flash("Saved.", "success")
            return redirect("/uow/page")

        @application.get("/uow/page")
        def page():
            return render_template_string("{% for m in get_flashed_messages() %}[{{ m }}]{% endfor %}")

        yield application


@pytest.fixture
def actions(uow_app) -> Actions:
    kept = uow_app.extensions["test_actions"]
    kept.ran.clear()
    return kept


def stored_emails(app) -> set[str]:
    with app.app_context():
        try:
            return set(db.session.scalars(sa.select(User.email)))
        finally:
            db.session.remove()


@pytest.mark.parametrize("code", [200, 201, 302, 303])
def test_a_request_that_succeeds_is_kept_and_its_actions_run_once(uow_app, actions, code):
    email = f"kept-{code}@example.org"
    client = uow_app.test_client()

    assert client.post(f"/uow/answer/{code}/{email}").status_code == code

    assert email in stored_emails(uow_app)
    assert actions.ran == [email]
    client.get("/uow/page")
    assert actions.ran == [email], "an action runs once"


@pytest.mark.parametrize("code", [400, 403, 409, 422, 500])
def test_a_request_answered_with_an_error_keeps_nothing_and_runs_no_action(uow_app, actions, code):
    """A form sent back with 4xx, a refusal, an error page: what the view wrote is rolled back."""
    email = f"refused-{code}@example.org"

    assert uow_app.test_client().post(f"/uow/answer/{code}/{email}").status_code == code

    assert email not in stored_emails(uow_app)
    assert actions.ran == []


@pytest.mark.parametrize(("path", "code"), [("raise", 500), ("abort", 404)])
def test_a_view_that_raises_after_writing_keeps_nothing_and_runs_no_action(uow_app, actions, path, code):
    email = f"{path}@example.org"

    answer = uow_app.test_client().post(f"/uow/{path}/{email}")

    assert answer.status_code == code
    assert email not in stored_emails(uow_app)
    assert actions.ran == []


def test_an_action_of_a_savepoint_that_rolled_back_never_runs(uow_app, actions):
    assert uow_app.test_client().post("/uow/savepoint/outer@example.org").status_code == 200

    emails = stored_emails(uow_app)
    assert "outer@example.org" in emails and "inner-outer@example.org" not in emails
    assert actions.ran == ["outer@example.org"]


def test_a_commit_that_breaks_a_unique_key_rolls_back_answers_500_and_runs_no_action(uow_app, actions):
    client = uow_app.test_client()
    assert client.post("/uow/answer/200/taken@example.org").status_code == 200
    actions.ran.clear()

    answer = client.post("/uow/duplicate/taken@example.org")

    assert answer.status_code == 500
    assert ERROR_PAGE in answer.get_data(as_text=True)
    assert actions.ran == []
    assert client.get("/uow/page").get_data(as_text=True) == "", "no 'Saved.' for work that was rolled back"
    # The session is usable again: the next request commits.
    assert client.post("/uow/answer/302/after@example.org").status_code == 302
    assert "after@example.org" in stored_emails(uow_app)


def test_a_request_that_writes_nothing_sends_no_commit(uow_app, actions):
    """A page that only reads ends as before: its transaction is closed with the session, nothing is committed."""
    commits = []
    with uow_app.app_context():
        engine = db.engine

    def note(conn):
        commits.append(conn)

    event.listen(engine, "commit", note)
    try:
        assert uow_app.test_client().get("/uow/page").status_code == 200
    finally:
        event.remove(engine, "commit", note)
    assert commits == []


def test_an_after_commit_action_asked_for_outside_a_request_is_refused_not_forgotten(app):
    refused: list[str] = []

    def like_a_job():  # a thread of its own: no request around it, as in a worker or a command
        with app.app_context():
            try:
                on_commit(lambda: None)
            except RuntimeError as error:
                refused.append(str(error))

    worker = threading.Thread(target=like_a_job)
    worker.start()
    worker.join(timeout=10)
    assert refused and "request code" in refused[0]
