"""While a video's streaming versions are made (minutes for a long recording), the Files page shows how far
along they are, the rest of the app keeps writing (on SQLite too, where a transaction holds the whole
database), and the job's lease is renewed as it works, so no second worker starts the same transcode.

The transcode is slowed to twice real time (ffmpeg's own `-readrate`) so there is a while to watch it.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.integrations.storage import get_storage
from courseplatform.jobs import run_job
from courseplatform.media.ladder import FfmpegTranscoder, LadderError, Source
from courseplatform.media.probe import probe
from courseplatform.media.processing import record_facts
from courseplatform.models import Job, JobStatus, MediaAsset, MediaStatus, User
from courseplatform.models.base import utcnow

from ..factories import PASSWORD, CreatorProfileFactory
from ..factories.media import media_asset, probed_video
from ..helpers import committed_application, csrf_token_from
from .samples import make_samples

LEASE = 4


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    return make_samples(tmp_path_factory.mktemp("progress-samples"))


@pytest.fixture
def slow_ffmpeg(tmp_path):
    """An ffmpeg that reads its input at twice the speed it plays."""
    script = tmp_path / "ffmpeg"
    script.write_text(f'#!/bin/sh\nexec {shutil.which("ffmpeg")} -readrate 2 "$@"\n')
    script.chmod(0o755)
    return str(script)


def test_ffmpeg_reports_how_far_the_transcode_has_got(app, samples, slow_ffmpeg, tmp_path):
    facts = probe(str(samples["lecture.mp4"]))
    source = Source(str(samples["lecture.mp4"]), facts.width, facts.height, facts.duration_seconds, True)
    reports: list[float] = []
    FfmpegTranscoder(slow_ffmpeg).make_ladder(source, tmp_path, reports.append)
    assert len(reports) >= 3, reports
    assert reports == sorted(reports) and 0 <= reports[0] < 0.5 and reports[-1] == 1.0
    assert any(0 < fraction < 1 for fraction in reports)


@pytest.fixture(params=["sqlite", "postgresql"])
def busy_app(request, tmp_path_factory, slow_ffmpeg):
    config = {"FFMPEG_BINARY": slow_ffmpeg, "JOB_LEASE_SECONDS": LEASE}
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("progress-db") / "aqueduct.db"
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    with committed_application(tmp_path_factory, f"progress_{request.param}", **config) as app:
        yield app


def a_video_waiting_for_its_ladder(app, path) -> tuple[int, int, str]:
    """A committed, probed 13-s 720p upload and its queued ladder job, not yet run; (asset, job, owner's e-mail)."""
    with app.app_context():
        creator = CreatorProfileFactory()
        db.session.flush()
        key = f"media/{creator.user_id}/lecture.mp4"
        with path.open("rb") as stream:
            size = get_storage().save(key, stream, "video/mp4")
        asset = MediaAsset(
            owner_id=creator.user_id, storage_key=key, original_name="lecture.mp4", content_type="video/mp4",
            size_bytes=size, status=MediaStatus.READY, ladder_status="queued",
        )  # fmt: skip
        record_facts(asset, probe(str(path)))
        db.session.add(asset)
        db.session.flush()
        job = Job(kind="media.ladder", payload={"asset_id": asset.id}, owner_id=creator.user_id)
        db.session.add(job)
        db.session.commit()
        ids = asset.id, job.id, creator.user.email
        db.session.remove()
        return ids


def worker(app, job_id: int) -> tuple[threading.Thread, list]:
    """Run the job as a worker process would, in a thread of its own: the thread, started, and the list
    its outcome goes in when it ends."""
    outcome: list = []

    def run() -> None:
        with app.app_context():
            try:
                outcome.append(run_job(job_id))
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def files_page(client) -> str:
    return " ".join(client.get("/studio/files").get_data(as_text=True).split())


def test_the_files_page_follows_the_transcode_while_the_app_keeps_working(busy_app, samples):
    app = busy_app
    asset_id, job_id, email = a_video_waiting_for_its_ladder(app, samples["lecture.mp4"])
    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD}).status_code == 302
    assert "Waiting to make the streaming versions" in files_page(client)

    started = utcnow()
    thread, outcome = worker(app, job_id)
    percents: list[int] = []
    writes = 0
    leases = set()
    try:
        while thread.is_alive():
            shown = re.search(r"Making the streaming versions: (\d+) %", files_page(client))
            if shown:
                percents.append(int(shown.group(1)))
            with app.app_context():
                # Anything else the app writes meanwhile (here, a learner's name) doesn't wait for the transcode.
                db.session.execute(sa.update(User).where(User.email == email).values(name=f"Therapist {writes}"))
                db.session.commit()
                writes += 1
                leases.add(db.session.scalar(sa.select(Job.lease_until).where(Job.id == job_id)))
                db.session.remove()
            time.sleep(0.4)
    finally:
        thread.join(timeout=120)
    assert outcome and outcome[0].status is JobStatus.DONE
    assert writes >= 5
    assert len(set(percents)) >= 2 and percents == sorted(percents), percents
    assert all(0 <= percent < 100 for percent in percents)
    # Each renewal pushes the lease on; the last one ends past where the first claim's lease would have.
    renewed = sorted(lease for lease in leases if lease is not None)
    assert len(renewed) >= 2 and renewed[-1] > started + timedelta(seconds=LEASE + 1), renewed
    page = files_page(client)
    assert "Streams at 360p, 720p" in page and "Making the streaming versions" not in page
    with app.app_context():
        asset = db.session.get(MediaAsset, asset_id)
        assert (asset.ladder_status, asset.ladder_percent) == ("ready", None)


@pytest.mark.parametrize("busy_app", ["postgresql"], indirect=True)
def test_a_worker_whose_job_was_taken_over_stops_and_leaves_the_ladder_to_the_other(busy_app, samples):
    """Had a worker stalled past its lease, the job is claimed again; the stalled one, on its next beat,
    stops its ffmpeg and writes nothing, and the other makes the ladder."""
    app = busy_app
    asset_id, job_id, _email = a_video_waiting_for_its_ladder(app, samples["lecture.mp4"])
    thread, first = worker(app, job_id)
    with app.app_context():
        deadline = time.monotonic() + 30
        while db.session.scalar(sa.select(MediaAsset.ladder_percent).where(MediaAsset.id == asset_id)) is None:
            db.session.remove()
            assert time.monotonic() < deadline, "the transcode never reported"
            time.sleep(0.2)
        # As if the first worker had stalled: its lease runs out, and the sweeper hands the job to another.
        db.session.execute(sa.update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        second = run_job(job_id)
        thread.join(timeout=60)
        assert first and first[0].status is None
        assert second.status is JobStatus.DONE
        job = db.session.get(Job, job_id)
        assert (job.status, job.attempts) == (JobStatus.DONE, 2)
        asset = db.session.get(MediaAsset, asset_id)
        assert (asset.ladder_status, asset.ladder_heights) == ("ready", [360, 720])


def ffmpeg_with_a_quiet_poster(folder, seconds: float, fail_first: bool = False) -> str:
    """An ffmpeg whose poster step is slow and says nothing (reading the source again over a slow link);
    with `fail_first`, the first poster step then fails. Writes `poster-started` when one begins."""
    script = folder / "ffmpeg"
    failing = (
        f"if [ ! -e {folder}/failed-once ]; then touch {folder}/failed-once; sleep {seconds}; exit 1; fi; "
        if fail_first
        else f"sleep {seconds}; "
    )
    script.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *-frames:v*) touch {folder}/poster-started; {failing};; esac\n'
        f'exec {shutil.which("ffmpeg")} "$@"\n'
    )
    script.chmod(0o755)
    return str(script)


def wait_for(path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.1)


def test_a_worker_in_a_quiet_step_keeps_its_job(tmp_path_factory, samples, tmp_path):
    """The poster step writes no progress; the lease is renewed all the same, so the sweeper, coming round
    while the worker lives, never finds the job abandoned and never starts a second transcode."""
    binary = ffmpeg_with_a_quiet_poster(tmp_path, LEASE + 2)
    with committed_application(tmp_path_factory, "quiet_step", JOB_LEASE_SECONDS=LEASE, FFMPEG_BINARY=binary) as app:
        asset_id, job_id, _email = a_video_waiting_for_its_ladder(app, samples["lecture.mp4"])
        thread, first = worker(app, job_id)
        claims = []
        try:
            wait_for(tmp_path / "poster-started")
            with app.app_context():
                while thread.is_alive():
                    claims.append(run_job(job_id).status)  # the sweeper, every half second
                    db.session.remove()
                    time.sleep(0.5)
        finally:
            thread.join(timeout=120)
        assert first[0].status is JobStatus.DONE
        assert len(claims) >= 10 and set(claims) == {None}
        with app.app_context():
            assert db.session.get(Job, job_id).attempts == 1
            assert db.session.get(MediaAsset, asset_id).ladder_status == "ready"


def test_a_worker_taken_over_writes_nothing_over_the_new_owner(tmp_path_factory, samples, tmp_path):
    """A worker stalls in its poster step past its lease (here: the job is handed to another meanwhile), then
    fails: its failure is not recorded over the job the other worker finished."""
    binary = ffmpeg_with_a_quiet_poster(tmp_path, 3, fail_first=True)
    with committed_application(tmp_path_factory, "taken_over", JOB_LEASE_SECONDS=LEASE, FFMPEG_BINARY=binary) as app:
        asset_id, job_id, _email = a_video_waiting_for_its_ladder(app, samples["lecture.mp4"])
        thread, first = worker(app, job_id)
        try:
            wait_for(tmp_path / "poster-started")
            with app.app_context():
                db.session.execute(
                    sa.update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1))
                )
                db.session.commit()
                second = run_job(job_id)
                db.session.remove()
        finally:
            thread.join(timeout=120)
        assert second.status is JobStatus.DONE and first[0].status is None
        with app.app_context():
            job = db.session.get(Job, job_id)
            asset = db.session.get(MediaAsset, asset_id)
            assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 2, "")
            assert (asset.ladder_status, asset.ladder_error) == ("ready", None)


def test_on_sqlite_a_busy_moment_costs_a_progress_report_not_the_transcode(tmp_path_factory, samples, slow_ffmpeg):
    """Another writer holds SQLite's one write lock longer than the 5 s a transaction waits for it (a long
    import, say): the progress reports meanwhile are skipped, and the transcode goes on to the end."""
    path = tmp_path_factory.mktemp("busy-db") / "aqueduct.db"
    config = {"FFMPEG_BINARY": slow_ffmpeg, "JOB_LEASE_SECONDS": 30, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}
    with committed_application(tmp_path_factory, "busy_sqlite", needs_postgres=False, **config) as app:
        asset_id, job_id, _email = a_video_waiting_for_its_ladder(app, samples["lecture.mp4"])
        started = threading.Event()

        def other_writer() -> None:
            started.wait(60)
            with app.app_context(), db.engine.connect() as connection:
                connection.exec_driver_sql("UPDATE users SET name = name")  # BEGIN IMMEDIATE: the write lock
                time.sleep(5.5)
                connection.commit()

        def watch() -> None:
            with app.app_context():
                while not started.is_set():
                    percent = db.session.scalar(sa.select(MediaAsset.ladder_percent).where(MediaAsset.id == asset_id))
                    db.session.remove()
                    if percent is not None:
                        started.set()
                    time.sleep(0.1)

        threads = [threading.Thread(target=other_writer), threading.Thread(target=watch)]
        for thread in threads:
            thread.start()
        try:
            with app.app_context():
                outcome = run_job(job_id)
                db.session.remove()
                assert outcome.status is JobStatus.DONE, db.session.get(Job, job_id).last_error
                assert db.session.get(Job, job_id).attempts == 1
                assert db.session.get(MediaAsset, asset_id).ladder_status == "ready"
                db.session.remove()
        finally:
            started.set()
            for thread in threads:
                thread.join(timeout=30)


def a_job_whose_worker_died_every_time(kind: str, asset: MediaAsset) -> Job:
    """A committed job of `kind` for `asset`, its worker killed during each of its attempts."""
    job = Job(
        kind=kind, payload={"asset_id": asset.id}, owner_id=asset.owner_id,
        status=JobStatus.RUNNING, attempts=5, lease_until=utcnow() - timedelta(minutes=5),
    )  # fmt: skip
    db.session.add(job)
    db.session.commit()
    return job


def test_a_ladder_job_whose_worker_died_every_time_says_so_on_the_files_page(app, client, web):
    """A transcode killed (out of memory, say) on each of its attempts is failed by the next claim, and the
    video's row stops saying its streaming versions are being made."""
    creator = CreatorProfileFactory()
    asset = probed_video(creator.user, "big.mp4", ladder_status="making", ladder_percent=40)
    job = a_job_whose_worker_died_every_time("media.ladder", asset)

    assert run_job(job.id).status is None
    db.session.expire_all()
    assert db.session.get(Job, job.id).status is JobStatus.FAILED
    failed = db.session.get(MediaAsset, asset.id)
    assert (failed.ladder_status, failed.ladder_percent) == ("failed", None)
    web.login(creator.user.email, PASSWORD)
    page = files_page(client)
    assert "No streaming versions (making them failed several times); the original plays." in page
    assert "data-live-row" not in page


def test_a_transcode_past_its_deadline_stops_even_under_a_wrapper(tmp_path):
    """An FFMPEG_BINARY that runs ffmpeg as its child (`nice ffmpeg "$@"`, without exec): at the deadline the
    child is stopped too, not waited for. Here the child stands for an ffmpeg whose input stalled."""
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text("#!/bin/sh\nsleep 30\n")
    wrapper.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(LadderError, match="took too long"):
        FfmpegTranscoder(str(wrapper))._run([str(wrapper)], 2, lambda done: None, duration=10)
    assert time.monotonic() - started < 8, "the deadline waited for the wrapper's child to end on its own"


def test_a_file_whose_check_never_ran_says_so_and_plays_as_uploaded(app, client, web):
    """The probe's worker died on every attempt (storage out of reach, say): the row stops saying the file is
    being checked, and says it plays as uploaded."""
    creator = CreatorProfileFactory()
    asset = media_asset(creator.user, "talk.mp4")
    job = a_job_whose_worker_died_every_time("media.probe", asset)
    web.login(creator.user.email, PASSWORD)
    assert "Checking the file…" in files_page(client)

    assert run_job(job.id).status is None
    page = files_page(client)
    assert "It couldn't be read just now; it plays as uploaded." in page
    assert "Checking the file" not in page and "data-live-row" not in page
