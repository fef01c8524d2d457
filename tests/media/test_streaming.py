"""A lesson video's HLS ladder is played only by who may play the lesson, on both backends: playlists come
through the app after the access check, each segment is a redirect to a link that lasts HLS_LINK_SECONDS
(so a revoked learner gets no further segment), and nothing outside the ladder can be named."""

from __future__ import annotations

import subprocess

import m3u8
import pytest
import requests

from courseplatform.enrollments import access_changes
from courseplatform.extensions import db
from courseplatform.models import Enrollment, LessonKind, MediaAsset

from ..factories import PASSWORD, EnrollmentFactory, LessonFactory, OfferingFactory, SectionFactory, UserFactory
from .samples import make_samples
from .test_upload_forms import Browser, reload


@pytest.fixture(scope="session")
def samples(tmp_path_factory):
    return make_samples(tmp_path_factory.mktemp("stream-samples"))


@pytest.fixture
def course(web, client, backend, samples):
    return streamed_course(web, client, backend, samples)


def streamed_course(web, client, backend, samples):
    """A published course whose video lesson has its ladder, with an enrolled learner; nobody logged in."""
    offering = OfferingFactory(title="Grounding Skills", slug="grounding")
    web.login(offering.creator.user.email, PASSWORD)
    uploaded = Browser(client, backend, offering).upload(
        "lecture.mp4", samples["lecture.mp4"].read_bytes(), "video/mp4", "video"
    )
    asset = reload(MediaAsset, uploaded["asset_id"])
    assert asset.ladder_status == "ready"
    lesson = LessonFactory(section=SectionFactory(offering=offering), kind=LessonKind.VIDEO, media_asset=asset)
    EnrollmentFactory(user=UserFactory(email="learner@example.org"), offering=offering)
    UserFactory(email="stranger@example.org")
    db.session.commit()
    web.logout()
    return offering, lesson


def stream_url(course, name: str) -> str:
    offering, lesson = course
    return f"/learn/{offering.slug}/lessons/{lesson.id}/hls/{name}"


@pytest.mark.parametrize("backend", ["local", "s3"], indirect=True)
def test_an_enrolled_learner_streams_the_ladder_and_segments_come_from_storage(web, client, backend, course, tmp_path):
    web.login("learner@example.org", PASSWORD)
    master = client.get(stream_url(course, "master.m3u8"))
    assert master.status_code == 200 and master.mimetype == "application/vnd.apple.mpegurl"
    assert master.headers["Cache-Control"] == "private, no-store"
    assert [p.uri for p in m3u8.loads(master.get_data(as_text=True)).playlists] == [
        "360p/index.m3u8",
        "720p/index.m3u8",
    ]
    rung = m3u8.loads(client.get(stream_url(course, "720p/index.m3u8")).get_data(as_text=True))
    segment = client.get(stream_url(course, f"720p/{rung.segments[0].uri}"))
    assert segment.status_code == 302 and segment.headers["Cache-Control"] == "private, no-store"
    with requests.get(backend.absolute(segment.headers["Location"]), timeout=30) as fetched:
        assert fetched.status_code == 200
        (tmp_path / "seg.ts").write_bytes(fetched.content)
    probed = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,height",
         "-of", "csv=p=0", str(tmp_path / "seg.ts")],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    assert probed[0] == "h264,720"
    poster = client.get(stream_url(course, "poster.jpg"))
    assert poster.status_code == 302

    page = client.get(f"/learn/grounding/lessons/{course[1].id}").get_data(as_text=True)
    assert f'data-hls="{stream_url(course, "master.m3u8")}"' in page
    assert f'poster="{stream_url(course, "poster.jpg")}"' in page
    assert "vendor/hlsjs/hls.light.min" in page and "data-player-quality" in page


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_strangers_and_revoked_learners_get_no_playlist_or_segment(web, client, backend, course):
    names = ("master.m3u8", "360p/index.m3u8", "360p/seg_000.ts", "poster.jpg")
    for name in names:
        assert client.get(stream_url(course, name)).status_code == 403, f"anonymous: {name}"
    web.login("stranger@example.org", PASSWORD)
    for name in names:
        assert client.get(stream_url(course, name)).status_code == 403, f"stranger: {name}"
    web.logout()
    web.login("learner@example.org", PASSWORD)
    assert client.get(stream_url(course, "360p/seg_000.ts")).status_code == 302
    enrollment = db.session.query(Enrollment).filter_by(offering_id=course[0].id).one()
    access_changes.revoke(enrollment)
    db.session.commit()
    assert client.get(stream_url(course, "360p/seg_001.ts")).status_code == 403, "no segment after a refund"


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_nothing_outside_the_ladder_can_be_named(web, client, backend, course):
    web.login("learner@example.org", PASSWORD)
    names = ["1080p/index.m3u8", "360p/../../../uploads/x.mp4", "master.m3u8x", "360p/seg_1.ts", "360p/index.m3u8%00"]
    names += ["x", "app/app/master.m3u8", "app/../master.m3u8", "frame_poster.0000000.jpg", "master_0720p.m3u8"]
    for name in names:
        # A NUL byte is refused before routing (400), the rest is not found.
        assert client.get(stream_url(course, name)).status_code == (400 if "%00" in name else 404), name


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_live_sessions_replay_streams_in_the_same_player(web, client, backend, samples):
    from ..factories.live import learner, session_in, workshop

    offering = workshop(title="Couples in Crisis", slug="couples")
    web.login(offering.creator.user.email, PASSWORD)
    uploaded = Browser(client, backend, offering).upload(
        "replay.mp4", samples["lecture.mp4"].read_bytes(), "video/mp4", "video"
    )
    asset = reload(MediaAsset, uploaded["asset_id"])
    session, lesson = session_in(offering, minutes_from_now=-24 * 60, replay_asset_id=asset.id)
    learner(offering, email="learner@example.org")
    UserFactory(email="stranger@example.org")
    db.session.commit()
    web.logout()

    web.login("learner@example.org", PASSWORD)
    url = f"/learn/couples/sessions/{session.id}/hls/master.m3u8"
    master = client.get(url)
    assert master.status_code == 200 and len(m3u8.loads(master.get_data(as_text=True)).playlists) == 2
    page = client.get(f"/learn/couples/lessons/{lesson.id}").get_data(as_text=True)
    assert f'data-hls="{url}"' in page and "data-player-quality" in page
    web.logout()
    web.login("stranger@example.org", PASSWORD)
    assert client.get(url).status_code == 403
    assert client.get(f"/learn/couples/sessions/{session.id}/hls/360p/seg_000.ts").status_code == 403
