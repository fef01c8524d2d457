"""Test data, written to the test's transaction: factory_boy factories, one module per part of the platform.

Every factory is importable from here (`from tests.factories import UserFactory`); the builders that set
up a whole situation (an offering with lessons, a learner signed in, a live workshop) live in their part's
module and are imported from it (`from tests.factories.live import workshop`), since parts name theirs alike.

    base          Base, PASSWORD (every factory-made account's password)
    accounts      UserFactory, CreatorProfileFactory
    catalog       OfferingFactory, SectionFactory, LessonFactory, TopicFactory, WaitlistEntryFactory;
                  topic, waitlist_entry
    enrollments   EnrollmentFactory
    orders        OrderFactory, CouponFactory, RefundFactory; sale, refund
    live          LiveSessionFactory, AttendanceFactory; live_session, workshop, session_in, learner, sign_in
    media         MediaAssetFactory; media_asset, with_video
    player        QuizQuestionFactory, QuizChoiceFactory; offering, add_quiz, learner_in, lesson_url, page_token
    certificates  OfferingEvaluationFactory, QuizAttemptFactory, ProviderApprovalFactory; a CE offering, an
                  approved program, enrol, finish, attended, attempt...
    revenue       SessionIncomeFactory; learner (for an offering's figures)
"""

from .accounts import CreatorProfileFactory, UserFactory
from .base import PASSWORD, Base
from .catalog import LessonFactory, OfferingFactory, SectionFactory, TopicFactory, WaitlistEntryFactory
from .certificates import OfferingEvaluationFactory, ProviderApprovalFactory, QuizAttemptFactory
from .enrollments import EnrollmentFactory
from .live import AttendanceFactory, LiveSessionFactory
from .media import MediaAssetFactory
from .orders import CouponFactory, OrderFactory, RefundFactory
from .player import QuizChoiceFactory, QuizQuestionFactory
from .revenue import SessionIncomeFactory

__all__ = [
    "PASSWORD",
    "AttendanceFactory",
    "Base",
    "CouponFactory",
    "CreatorProfileFactory",
    "EnrollmentFactory",
    "LessonFactory",
    "LiveSessionFactory",
    "MediaAssetFactory",
    "OfferingEvaluationFactory",
    "OfferingFactory",
    "OrderFactory",
    "ProviderApprovalFactory",
    "QuizAttemptFactory",
    "QuizChoiceFactory",
    "QuizQuestionFactory",
    "RefundFactory",
    "SectionFactory",
    "SessionIncomeFactory",
    "TopicFactory",
    "UserFactory",
    "WaitlistEntryFactory",
]
