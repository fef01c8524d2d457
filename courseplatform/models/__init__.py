"""Every model, importable from one place (for Alembic, Flask-Login and the features)."""

from .accounts import CreatorProfile, LoginSession, User
from .audit import AuditEntry
from .base import stored_markdown, utcnow
from .commerce import (
    ORDER_TRANSITIONS,
    InvalidTransition,
    Order,
    OrderStatus,
    PaymentProvider,
    ProviderEvent,
    Refund,
    RefundStatus,
)
from .jobs import Job, JobStatus
from .learning import (
    AccessEvent,
    Attendance,
    Certificate,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    LessonProgress,
    OfferingEvaluation,
    QuizAttempt,
    WaitlistEntry,
)
from .mail import MailStatus, OutgoingMail
from .media import MediaAsset, MediaStatus
from .offerings import (
    Lesson,
    LessonKind,
    LiveSession,
    Offering,
    OfferingKind,
    OfferingStatus,
    QuizChoice,
    QuizQuestion,
    Section,
    Topic,
    offering_topics,
)
from .revenue import PayerKind, SessionIncome, SessionIncomeKind, SessionIncomeSource
from .stats import CreatorLearner, CreatorStats, OfferingSales, OfferingStats, PlatformStats

__all__ = [
    "ORDER_TRANSITIONS",
    "AccessEvent",
    "Attendance",
    "AuditEntry",
    "Certificate",
    "CreatorLearner",
    "CreatorProfile",
    "CreatorStats",
    "Enrollment",
    "EnrollmentSource",
    "EnrollmentStatus",
    "InvalidTransition",
    "Job",
    "JobStatus",
    "Lesson",
    "LessonKind",
    "LessonProgress",
    "LiveSession",
    "LoginSession",
    "MailStatus",
    "MediaAsset",
    "MediaStatus",
    "Offering",
    "OfferingEvaluation",
    "OfferingKind",
    "OfferingSales",
    "OfferingStats",
    "OfferingStatus",
    "Order",
    "OrderStatus",
    "OutgoingMail",
    "PayerKind",
    "PaymentProvider",
    "PlatformStats",
    "ProviderEvent",
    "QuizAttempt",
    "QuizChoice",
    "QuizQuestion",
    "Refund",
    "RefundStatus",
    "Section",
    "SessionIncome",
    "SessionIncomeKind",
    "SessionIncomeSource",
    "Topic",
    "User",
    "WaitlistEntry",
    "offering_topics",
    "stored_markdown",
    "utcnow",
]
