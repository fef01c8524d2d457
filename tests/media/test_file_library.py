"""The studio's Files page and deleting an offering: every upload with its state and uses,
and objects removed from storage (on both backends) once nothing uses them."""

from __future__ import annotations

from html import unescape

import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Lesson, LessonKind, MediaAsset, MediaStatus, Offering, Section

from ..factories import PASSWORD, EnrollmentFactory, LessonFactory, OfferingFactory, SectionFactory
from ..markup import confirmation_around

PDF = b"%PDF-1.4\n%%EOF\n"
VTT = b"WEBVTT\n\n00:00.000 --> 00:01.000\nHello.\n"


def stored(backend, owner, name: str, body: bytes, content_type: str, **fields) -> MediaAsset:
    """A file really in storage, and its row, as a finished upload leaves them."""
    key = f"uploads/{owner.id}/{name}"
    backend.store(key, body, content_type)
    asset = MediaAsset(
        owner_id=owner.id,
        storage_key=key,
        original_name=name,
        content_type=content_type,
        size_bytes=len(body),
        status=fields.pop("status", MediaStatus.READY),
        **fields,
    )
    db.session.add(asset)
    db.session.flush()
    return asset


def page_text(client, url: str = "/studio/files") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return unescape(response.get_data(as_text=True))


def test_the_files_page_shows_each_upload_with_its_state_reason_and_uses(web, client, backend, demo_video):
    offering = OfferingFactory(title="Grounding Skills")
    owner = offering.creator.user
    video = stored(backend, owner, "welcome.mp4", demo_video, "video/mp4")
    LessonFactory(section=SectionFactory(offering=offering), title="Welcome", kind=LessonKind.VIDEO, media_asset=video)
    stored(backend, owner, "spare.pdf", PDF, "application/pdf")
    db.session.add_all(
        [
            MediaAsset(
                owner_id=owner.id, storage_key="k/pending.mp4", original_name="pending.mp4", status=MediaStatus.PENDING
            ),
            MediaAsset(
                owner_id=owner.id,
                storage_key="k/bad.mp4",
                original_name="bad.mp4",
                status=MediaStatus.FAILED,
                failure_reason="“bad.mp4” isn't an MP4, MOV or WebM video: its content is type image/png.",
            ),
        ]
    )
    db.session.flush()
    web.login(owner.email, PASSWORD)

    html = page_text(client)

    assert "welcome.mp4" in html and "Grounding Skills</a> · Lesson: Welcome" in html
    assert "spare.pdf" in html and "Not used" in html
    assert "Uploading" in html and "pending.mp4" in html
    assert "Failed" in html and "its content is type image/png." in html
    assert "<strong>215 KB</strong> of 10 GB used" in html


def test_an_unused_file_is_deleted_from_storage_and_a_used_one_is_kept(web, client, backend, demo_video):
    offering = OfferingFactory()
    owner = offering.creator.user
    used = stored(backend, owner, "welcome.mp4", demo_video, "video/mp4")
    LessonFactory(section=SectionFactory(offering=offering), kind=LessonKind.VIDEO, media_asset=used)
    spare = stored(backend, owner, "spare.pdf", PDF, "application/pdf")
    spare_id, spare_key = spare.id, spare.storage_key
    web.login(owner.email, PASSWORD)

    html = unescape(web.submit(f"/studio/files/{spare_id}/delete", {}, form_url="/studio/files").get_data(as_text=True))
    assert "“spare.pdf” was deleted." in html
    db.session.expire_all()
    assert db.session.get(MediaAsset, spare_id) is None
    assert backend.storage.head(spare_key) is None

    html = unescape(web.submit(f"/studio/files/{used.id}/delete", {}, form_url="/studio/files").get_data(as_text=True))
    assert "“welcome.mp4” is still used. Remove it from its lesson or offering first." in html
    assert db.session.get(MediaAsset, used.id) is not None
    assert backend.storage.head(used.storage_key).size == len(demo_video)


def test_deleting_a_file_asks_first_even_without_javascript(web, client, backend):
    offering = OfferingFactory()
    spare = stored(backend, offering.creator.user, "spare <notes>.pdf", PDF, "application/pdf")
    web.login(offering.creator.user.email, PASSWORD)

    html = client.get("/studio/files").get_data(as_text=True)

    confirmation = confirmation_around(html, f"/studio/files/{spare.id}/delete")
    assert confirmation is not None, "the delete button is one click away"
    assert "Delete “spare <notes>.pdf”?" in confirmation
    assert "This can't be undone." in confirmation
    assert db.session.get(MediaAsset, spare.id) is not None


def test_nobody_else_deletes_or_sees_my_files(web, client, backend):
    offering = OfferingFactory()
    spare = stored(backend, offering.creator.user, "private-notes.pdf", PDF, "application/pdf")
    other = OfferingFactory()
    web.login(other.creator.user.email, PASSWORD)

    assert "private-notes.pdf" not in page_text(client)
    response = web.submit(f"/studio/files/{spare.id}/delete", {}, form_url="/studio/files", follow_redirects=False)
    assert response.status_code == 404
    assert backend.storage.head(spare.storage_key) is not None


def test_the_files_page_runs_the_same_queries_for_few_and_many_files(web, client, backend, count_queries):
    offering = OfferingFactory()
    owner = offering.creator.user
    section = SectionFactory(offering=offering)
    web.login(owner.email, PASSWORD)
    counts = []
    for total in (3, 45):
        while db.session.scalar(sa.select(sa.func.count(MediaAsset.id)).where(MediaAsset.owner_id == owner.id)) < total:
            n = db.session.scalar(sa.select(sa.func.count(MediaAsset.id)))
            asset = MediaAsset(
                owner_id=owner.id, storage_key=f"k/{n}.pdf", original_name=f"{n}.pdf", content_type="application/pdf"
            )
            asset.status = MediaStatus.READY
            db.session.add(asset)
            db.session.flush()
            LessonFactory(section=section, kind=LessonKind.DOWNLOAD, media_asset=asset)
        with count_queries() as counter:
            page_text(client)
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_deleting_an_offering_removes_its_curriculum_and_the_files_only_it_used(web, client, backend, demo_video):
    offering = OfferingFactory(title="Old draft")
    owner = offering.creator.user
    video = stored(backend, owner, "talk.mp4", demo_video, "video/mp4")
    captions = stored(backend, owner, "talk.vtt", VTT, "text/vtt")
    shared = stored(backend, owner, "shared.pdf", PDF, "application/pdf")
    cover = stored(backend, owner, "cover.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
    offering.cover_asset = cover
    section = SectionFactory(offering=offering)
    LessonFactory(section=section, kind=LessonKind.VIDEO, media_asset=video, captions_asset=captions)
    LessonFactory(section=section, kind=LessonKind.DOWNLOAD, media_asset=shared)
    other = OfferingFactory(creator=offering.creator)
    LessonFactory(section=SectionFactory(offering=other), kind=LessonKind.DOWNLOAD, media_asset=shared)
    gone = [(a.id, a.storage_key) for a in (video, captions, cover)]
    offering_id, shared_id, shared_key = offering.id, shared.id, shared.storage_key
    web.login(owner.email, PASSWORD)

    html = unescape(
        web.submit(f"/studio/courses/{offering_id}/delete", {}, form_url=f"/studio/courses/{offering_id}").get_data(
            as_text=True
        )
    )

    assert "“Old draft” was deleted, with its lessons and files." in html
    db.session.expire_all()
    assert db.session.get(Offering, offering_id) is None
    assert db.session.scalar(sa.select(sa.func.count(Section.id)).where(Section.offering_id == offering_id)) == 0
    for asset_id, key in gone:
        assert db.session.get(MediaAsset, asset_id) is None
        assert backend.storage.head(key) is None
    assert backend.storage.head(shared_key) is not None  # still used by the other offering
    assert db.session.scalar(sa.select(sa.func.count(Lesson.id)).where(Lesson.media_asset_id == shared_id)) == 1


def test_an_offering_someone_enrolled_in_is_archived_never_deleted(web, client, backend, demo_video):
    offering = OfferingFactory(title="Bought")
    video = stored(backend, offering.creator.user, "talk.mp4", demo_video, "video/mp4")
    LessonFactory(section=SectionFactory(offering=offering), kind=LessonKind.VIDEO, media_asset=video)
    EnrollmentFactory(offering=offering)
    web.login(offering.creator.user.email, PASSWORD)

    overview = page_text(client, f"/studio/courses/{offering.id}")
    assert "Delete this offering" not in overview and "Delete for good" not in overview
    html = unescape(
        web.submit(f"/studio/courses/{offering.id}/delete", {}, form_url=f"/studio/courses/{offering.id}").get_data(
            as_text=True
        )
    )

    assert "so it can't be deleted. Archive it instead" in html
    db.session.expire_all()
    assert db.session.get(Offering, offering.id) is not None
    assert backend.storage.head(video.storage_key).size == len(demo_video)
