"""Every model, importable from one place (for Alembic, Flask-Login and the features)."""

from .accounts import CreatorProfile, LoginSession, User
from .base import stored_markdown, utcnow
from .commerce import (
    ORDER_TRANSITIONS,
    InvalidTransition,
    Order,
    OrderStatus,
    PaymentProvider,
    ProviderEvent,
    Refund,
)
from .courses import (
    Course,
    CourseKind,
    CourseStatus,
    Lesson,
    LessonKind,
    LiveSession,
    QuizChoice,
    QuizQuestion,
    Section,
    Topic,
    course_topics,
)
from .learning import (
    Attendance,
    Certificate,
    CourseEvaluation,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    LessonProgress,
    QuizAttempt,
    WaitlistEntry,
)
from .media import MediaAsset, MediaStatus
from .revenue import PayerKind, SessionIncome, SessionIncomeSource

__all__ = [
    "ORDER_TRANSITIONS",
    "Attendance",
    "Certificate",
    "Course",
    "CourseEvaluation",
    "CourseKind",
    "CourseStatus",
    "CreatorProfile",
    "Enrollment",
    "EnrollmentSource",
    "EnrollmentStatus",
    "InvalidTransition",
    "Lesson",
    "LessonKind",
    "LessonProgress",
    "LiveSession",
    "LoginSession",
    "MediaAsset",
    "MediaStatus",
    "Order",
    "OrderStatus",
    "PayerKind",
    "PaymentProvider",
    "ProviderEvent",
    "QuizAttempt",
    "QuizChoice",
    "QuizQuestion",
    "Refund",
    "Section",
    "SessionIncome",
    "SessionIncomeSource",
    "Topic",
    "User",
    "WaitlistEntry",
    "course_topics",
    "stored_markdown",
    "utcnow",
]
