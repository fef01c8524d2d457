"""People on a therapist's practice waitlist, and the studio's form that writes to them."""

from __future__ import annotations

import re
from datetime import timedelta

from courseplatform.extensions import db
from courseplatform.models import PracticeWaitlistEntry, utcnow

STUDIO = "/studio/practice-waitlist"
SEND_KEY = re.compile(r'name="send_key" type="hidden" value="(\w+)"')


def on_list(profile, *emails, days_ago: float = 10) -> list[PracticeWaitlistEntry]:
    """These addresses on the list, a day apart, the first `days_ago` days ago."""
    entries = []
    for index, email in enumerate(emails):
        entry = PracticeWaitlistEntry(
            creator_id=profile.id, email=email, created_at=utcnow() - timedelta(days=days_ago - index)
        )
        db.session.add(entry)
        entries.append(entry)
    db.session.flush()
    return entries


def send_key_of(page: str) -> str:
    """The key the studio page made for its message form."""
    return SEND_KEY.search(page).group(1)


def send(web, **fields):
    """Post the page's form that writes to the list, with the key the page made for it."""
    key = send_key_of(web.client.get(STUDIO).get_data(as_text=True))
    return web.submit(f"{STUDIO}/mail", {"send_key": key, **fields}, form_url=STUDIO)
