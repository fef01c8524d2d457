"""The Celery application for `celery -A courseplatform.jobs.worker worker|beat` (see the Procfile)."""

from __future__ import annotations

from .. import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
