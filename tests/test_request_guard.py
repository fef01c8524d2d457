"""Hostile input is refused before any view runs, with a 400 that says why, and changes nothing.

NUL and other control characters, lone surrogates, JSON that isn't an object (or is nested
50,000 deep, or holds NaN), ids beyond the database's range: each gets a clear 4xx where it
used to be a server error. Bodies read as bytes (the local upload target) are theirs.
"""

from __future__ import annotations

import json
import socket
from contextlib import ExitStack

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.ids import MAX_ID, IdConverter
from courseplatform.integrations.storage import get_storage
from courseplatform.models import CreatorProfile, Enrollment, LessonKind, MediaAsset, MediaStatus, OfferingKind, User

from .factories import (
    PASSWORD,
    CreatorProfileFactory,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    SectionFactory,
    UserFactory,
)
from .helpers import csrf_token_from
from .servers import serve


def token_of(client, url: str = "/login") -> str:
    return csrf_token_from(client.get(url).get_data(as_text=True))


def user_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(User.id)))


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org")
    db.session.commit()
    web.login("maya@example.org", PASSWORD)
    return profile


def json_post(client, url: str, body: bytes | str, token: str):
    return client.post(url, data=body, content_type="application/json", headers={"X-CSRFToken": token})


# ---------------------------------------------------------------------------
# Characters no field should hold


def test_nul_in_the_anonymous_login_form_is_a_clear_400(client):
    UserFactory(email="ana@example.org")
    token = token_of(client)

    response = client.post("/login", data={"csrf_token": token, "email": "ana@example.org\x00", "password": "x"})

    assert response.status_code == 400
    assert "holds a character no text may (such as NUL)" in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302, "nobody is logged in"


def test_nul_in_the_signup_form_is_a_clear_400_and_creates_no_account(client):
    before = user_count()
    data = {
        "csrf_token": token_of(client, "/signup"),
        "name": "Robin\x00Hale",
        "email": "robin@example.org",
        "password": "calm river stones",
        "confirm": "calm river stones",
        "time_zone": "UTC",
    }

    response = client.post("/signup", data=data)

    assert response.status_code == 400
    assert user_count() == before


@pytest.mark.parametrize(
    "url",
    [
        "/courses?q=%00",
        "/courses?q=calm%1Briver",
        "/courses/%00",
        "/t/calm%00",
        "/login?next=/account%0D%0ASet-Cookie:x=1",
    ],
)
def test_control_characters_in_a_link_are_a_clear_400(client, url):
    response = client.get(url)

    assert response.status_code == 400
    assert "no link may" in response.get_data(as_text=True) or "no address may" in response.get_data(as_text=True)


def test_line_breaks_and_tabs_typed_in_a_text_area_are_kept(web, creator):
    bio = "First line.\r\nSecond line,\twith a tab."
    data = {
        "display_name": "Maya",
        "slug": creator.slug,
        "bio": bio,
        "currency": "USD",
        "time_zone": "UTC",
        "default_session_fee_cents": "150",
        "default_session_minutes": "50",
    }

    response = web.submit("/become-a-creator", data)

    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(CreatorProfile, creator.id).bio.replace("\r\n", "\n") == bio.replace("\r\n", "\n")


def test_a_lone_surrogate_in_an_upload_name_is_refused_and_records_nothing(client, creator):
    body = '{"filename": "\\ud800.mp4", "content_type": "video/mp4", "size": 1000, "purpose": "video"}'

    response = json_post(client, "/studio/uploads", body, token_of(client, "/account"))

    assert response.status_code == 400
    assert "half of a surrogate pair" in response.get_json()["detail"]
    assert db.session.scalar(sa.select(sa.func.count(MediaAsset.id))) == 0


# ---------------------------------------------------------------------------
# JSON


@pytest.mark.parametrize("body", ["[1, 2]", '"video"', "null", "12", "true"])
def test_json_that_is_not_an_object_is_a_400_json_error(client, creator, body):
    response = json_post(client, "/studio/uploads", body, token_of(client, "/account"))

    assert response.status_code == 400
    assert response.get_json()["detail"] == 'Send a JSON object, such as {"name": "value"}.'


def test_a_json_body_sent_to_a_form_is_refused(client, creator):
    response = json_post(client, "/account", "[1, 2, 3]", token_of(client, "/account"))

    assert response.status_code == 400
    assert response.get_json()["detail"] == "This address takes a form, not JSON."


@pytest.fixture
def enrolled_lesson(web):
    offering = OfferingFactory()
    lesson = LessonFactory(section=SectionFactory(offering=offering), kind=LessonKind.VIDEO)
    learner = UserFactory(email="lee@example.org")
    EnrollmentFactory(user=learner, offering=offering)
    db.session.commit()
    web.login("lee@example.org", PASSWORD)
    return f"/learn/{offering.slug}/lessons/{lesson.id}/position"


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 50_000 + b"]" * 50_000,
        b'{"seconds": ' + b"[" * 30 + b"]" * 30 + b"}",
        b'{"seconds": NaN}',
        b'{"seconds": Infinity}',
        b'{"seconds": 1e400}',
        b'{"seconds": ' + str(2**64).encode() + b"}",
        b'{"seconds": 12',
        b'{"seconds": "\xff"}',
    ],
    ids=["50,000 deep", "30 deep", "NaN", "Infinity", "1e400", "2**64", "cut short", "invalid UTF-8"],
)
def test_json_no_client_of_ours_sends_is_refused(client, enrolled_lesson, body):
    response = json_post(client, enrolled_lesson, body, token_of(client, "/account"))

    assert response.status_code == 400
    assert "at most 20 levels deep" in response.get_json()["detail"]
    assert db.session.scalar(sa.select(Enrollment.last_lesson_id)) is None


def test_the_upload_target_takes_raw_bytes_whatever_they_hold(app, client, creator):
    asset = MediaAsset(
        owner_id=creator.user_id,
        storage_key=f"uploads/{creator.user_id}/guard/notes.pdf",
        original_name="notes.pdf",
        content_type="application/pdf",
        size_bytes=64,
        status=MediaStatus.PENDING,
    )
    db.session.add(asset)
    db.session.commit()
    with app.test_request_context():
        url = get_storage().presign_upload(asset.storage_key, "application/pdf", 64)["url"]

    response = client.put(url, data=b"%PDF-1.4\x00\x00\x01\x1b" + b"\x00" * 52, content_type="application/json")

    assert response.status_code == 204


# ---------------------------------------------------------------------------
# Ids


def test_every_int_in_every_route_is_a_database_id(app):
    int_rules = [
        rule for rule in app.url_map.iter_rules() if any(isinstance(c, IdConverter) for c in rule._converters.values())
    ]
    assert len(int_rules) > 40
    for rule in app.url_map.iter_rules():
        for converter in rule._converters.values():
            assert type(converter).__name__ != "IntegerConverter", f"{rule.rule} bypasses the id converter"


def test_a_route_may_narrow_the_id_range_but_never_widen_it(app):
    from werkzeug.routing import Map

    assert IdConverter(Map(), max=100).max == 100
    assert IdConverter(Map(), max=2**40).max == MAX_ID


@pytest.mark.parametrize("too_big", [MAX_ID + 1, 2**63, 10**30])
def test_ids_beyond_the_database_range_are_not_found(client, creator, too_big):
    offering = OfferingFactory(creator=creator, kind=OfferingKind.LIVE_WORKSHOP)
    db.session.commit()
    token = token_of(client, "/account")

    for url in (
        f"/studio/courses/{too_big}",
        f"/studio/courses/{offering.id}/sessions/{too_big}/edit",
        f"/studio/sessions/{too_big}/edit",
        f"/account/orders/{too_big}",
        f"/learn/{offering.slug}/lessons/{too_big}",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/studio/courses/{too_big}/publish", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/checkout/success?order={too_big}").status_code == 404
    assert client.get(f"/checkout/cancel?order={too_big}").status_code == 404


def test_an_offering_id_beyond_the_database_range_is_a_json_error_in_the_upload_api(client, creator):
    body = {"filename": "a.mp4", "content_type": "video/mp4", "size": 1000, "purpose": "video", "course_id": 2**40}

    response = json_post(client, "/studio/uploads", json.dumps(body), token_of(client, "/account"))

    assert response.status_code == 400
    assert response.get_json() == {"error": "The offering's id must be a whole number."}
    assert db.session.scalar(sa.select(sa.func.count(MediaAsset.id))) == 0


# ---------------------------------------------------------------------------
# Filters and pages in the query string


@pytest.mark.parametrize(
    "query", ["sort=%20", "kind=%20", "kind=%09", "sort=cheapest", "topic=%20", "page=" + str(2**70), "page=-3"]
)
def test_blank_or_unknown_catalog_filters_show_the_default_list(client, query):
    OfferingFactory(title="Grounding skills")

    response = client.get(f"/courses?{query}")

    assert response.status_code == 200
    assert "Grounding skills" in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["status=%20", "status=%09", "status=lapsed", "page=" + str(2**70), "q=" + "x" * 500])
def test_blank_or_unknown_roster_filters_show_everyone(client, creator, query):
    offering = OfferingFactory(creator=creator)
    EnrollmentFactory(offering=offering, user=UserFactory(name="Lee Park"))
    db.session.commit()

    response = client.get(f"/studio/courses/{offering.id}/learners?{query}")

    assert response.status_code == 200
    assert "Lee Park" in response.get_data(as_text=True) or query.startswith("q=")


@pytest.mark.parametrize("url", ["/studio/files", "/studio/payouts", "/studio/sessions"])
def test_a_page_number_beyond_any_list_shows_the_last_page_not_an_error(client, creator, url):
    assert client.get(f"{url}?page={2**70}").status_code == 200
    assert client.get(f"{url}?page=%20").status_code == 200


# ---------------------------------------------------------------------------
# Bodies that can't be read


def _status_of_raw_request(url: str, request: bytes) -> int:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = connection.recv(4096)
    return int(answer.split(b" ", 2)[1])


def test_a_body_the_server_cannot_read_is_a_clear_400(tmp_path):
    """A broken chunked encoding makes gunicorn's reader raise as the body is read: by a form, JSON or raw view."""
    settings = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unread.db'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "MAIL_DIR": str(tmp_path / "mail"),
    }
    readers = {
        "/login": b"application/x-www-form-urlencoded",
        "/signup": b"multipart/form-data; boundary=x",
        "/studio/uploads": b"application/json",
        "/webhooks/stripe": b"application/json",
    }
    with ExitStack() as stack:
        url = serve(stack, settings)
        answers = {
            path: _status_of_raw_request(
                url,
                b"POST %s HTTP/1.1\r\nHost: aqueduct.test\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n"
                b"Connection: close\r\n\r\nzz\r\nnot a chunk size\r\n0\r\n\r\n" % (path.encode(), content_type),
            )
            for path, content_type in readers.items()
        }
    assert answers == dict.fromkeys(readers, 400)
