"""Studio: where a creator builds and runs their offerings.

One blueprint, `studio`, and a sub-package per concept, each with its routes (`views`,
`*_views`), forms and services:

- `offerings`: the dashboard, creating, editing, publishing, duplicating and deleting an offering
- `curriculum`: sections, lessons and quizzes, and the scheduling of live sessions
- `live`: live sessions and their attendance (entered by hand or imported as a job)
- `learners`: the roster, granting and ending access, CSV enrolment, one learner's progress, the waitlist
- `payouts`: connecting Stripe and the ledger of sales
- `coupons`: the creator's discount codes and what each has done
- `files`: the creator's file library
- `ce`: the creator's approvals as a CE provider, and each offering's CE details
- `practice`: the practice waitlist (people the therapist can't see yet) and referral partners
"""

from flask import Blueprint

bp = Blueprint("studio", __name__)

from .ce import views as ce_views  # noqa: E402,F401
from .coupons import views as coupons_views  # noqa: E402,F401
from .curriculum import quiz_views  # noqa: E402,F401
from .curriculum import views as curriculum_views  # noqa: E402,F401
from .files import views as files_views  # noqa: E402,F401
from .learners import progress_views, waitlist_views  # noqa: E402,F401
from .learners import views as learners_views  # noqa: E402,F401
from .live import attendance_views  # noqa: E402,F401
from .live import views as live_views  # noqa: E402,F401
from .offerings import bundle_views  # noqa: E402,F401
from .offerings import views as offerings_views  # noqa: E402,F401
from .payouts import views as payouts_views  # noqa: E402,F401
from .practice import views as practice_views  # noqa: E402,F401
