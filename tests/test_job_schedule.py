"""Beat's timetable: the sweeper's cadence is a setting, the other schedules stay as documented."""

from __future__ import annotations

import pytest

from courseplatform import create_app
from courseplatform.config import ConfigError


def beat_schedule(monkeypatch, tmp_path, **env) -> dict:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'a.db'}"})
    return app.extensions["celery"].conf.beat_schedule


def test_the_sweeper_runs_every_30_seconds_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv("SWEEP_SECONDS", raising=False)
    schedule = beat_schedule(monkeypatch, tmp_path)
    assert schedule["sweep"] == {"task": "aqueduct.sweep", "schedule": 30.0}
    assert schedule["send-reminders"]["task"] == "aqueduct.send_reminders"


def test_sweep_seconds_sets_how_often_beat_sweeps(monkeypatch, tmp_path):
    schedule = beat_schedule(monkeypatch, tmp_path, SWEEP_SECONDS="5")
    assert schedule["sweep"] == {"task": "aqueduct.sweep", "schedule": 5.0}


@pytest.mark.parametrize("value", ["0", "soon", "99999"])
def test_a_sweep_cadence_out_of_range_is_refused_with_a_message(monkeypatch, tmp_path, value):
    with pytest.raises(ConfigError, match="SWEEP_SECONDS must be"):
        beat_schedule(monkeypatch, tmp_path, SWEEP_SECONDS=value)
