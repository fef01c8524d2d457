"""People: users and the creator profile that turns a user into a therapist-creator."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from markupsafe import Markup
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .base import ONLY_ON_POSTGRESQL, UTCDateTime, markdown_html, money_check, utcnow

if TYPE_CHECKING:
    from .offerings import Offering


class User(UserMixin, Model):
    """Anyone with an account: a learner, a creator (with a profile), an admin."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("email = lower(email)", name="email_lowercase"),
        # A creator's roster search (ILIKE '%text%' on name or e-mail) finds the people by these.
        sa.Index(
            "ix_users_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
            info=ONLY_ON_POSTGRESQL,
        ),
        sa.Index(
            "ix_users_email_trgm",
            "email",
            postgresql_using="gin",
            postgresql_ops={"email": "gin_trgm_ops"},
            info=ONLY_ON_POSTGRESQL,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    time_zone: Mapped[str] = mapped_column(sa.String(64), default="UTC", server_default="UTC")
    # Bumped when the password changes: spends every reset and invitation link issued before.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set by an operator: the account can't log in, and its login sessions were ended. The running
    # totals count suspended accounts from its value before a change, so a write loads that first.
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), active_history=True)
    suspension_reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")

    creator_profile: Mapped[CreatorProfile | None] = relationship(back_populates="user", uselist=False, lazy="joined")

    @staticmethod
    def normalize_email(email: str) -> str:
        return email.strip().lower()

    # Not columns: the LoginSession this request was authenticated with, and the raw token of a
    # login being started (set by accounts.services; the token itself is never stored).
    if TYPE_CHECKING:  # annotated for the type checker only: the ORM maps every annotated attribute
        login_session: LoginSession | None
        login_token: str | None
    login_session = None
    login_token = None

    def get_login_id(self) -> str:
        """What both cookies carry: the account and the token of the login session it was logged in with."""
        if self.login_token is None:
            raise RuntimeError("start a login session (accounts.services.start_login_session) before login_user")
        return f"{self.id}:{self.login_token}"

    @property
    def is_creator(self) -> bool:
        return self.creator_profile is not None

    @property
    def is_suspended(self) -> bool:
        """An operator suspended the account: it can't log in."""
        return self.suspended_at is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class CreatorProfile(Model):
    """The therapist's public identity, pricing defaults and payout account."""

    __tablename__ = "creator_profiles"
    __table_args__ = (
        money_check("default_session_fee_cents"),
        sa.CheckConstraint("default_session_minutes > 0", name="session_minutes_positive"),
        sa.CheckConstraint("storage_quota_bytes >= 0", name="storage_quota_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(120))
    credentials: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    # Where the creator practises (ISO 3166-1 alpha-2): the crisis line their client-facing pages show by default.
    country: Mapped[str | None] = mapped_column(sa.String(2))
    # Their licence as advertising rules ask it shown: title, state and number (e.g. LCSW, New York #012345).
    licence: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    bio: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    bio_html: Mapped[Markup] = markdown_html("bio", deferred=True)
    photo_asset_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("media_assets.id", ondelete="SET NULL", use_alter=True)
    )
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD", server_default="USD")
    default_session_fee_cents: Mapped[int] = mapped_column(default=15000, server_default="15000")
    default_session_minutes: Mapped[int] = mapped_column(default=50, server_default="50")
    storage_quota_bytes: Mapped[int] = mapped_column(
        sa.BigInteger, default=10 * 1024**3, server_default=str(10 * 1024**3)
    )
    stripe_account_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    stripe_charges_enabled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    stripe_details_submitted: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    stripe_payouts_enabled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Stripe Tax (when the operator turns it on): the creator is the liable party. Their connected account's
    # tax settings are active once they gave a head office address; until then their sales carry no tax.
    stripe_tax_active: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Whether their prices include tax (VAT-style) or tax is added on top at checkout (US sales tax style).
    prices_include_tax: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set by an operator: the offerings leave the catalog and the studio is closed; learners keep access.
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspension_reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    # As a CE provider: the name approvals are held in, and the policies every CE program shows.
    ce_provider_name: Mapped[str] = mapped_column(sa.String(160), default="", server_default="")
    ce_refund_policy: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    ce_grievance_policy: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    ce_accommodation_policy: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # The practice waitlist page (/t/<slug>/waitlist): open or not, and the therapist's words at its top.
    practice_waitlist_open: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    practice_waitlist_message: Mapped[str] = mapped_column(sa.Text, default="", server_default="")

    user: Mapped[User] = relationship(back_populates="creator_profile")
    offerings: Mapped[list[Offering]] = relationship(back_populates="creator")

    @property
    def is_suspended(self) -> bool:
        """An operator suspended the creator: nothing of theirs is sold, their studio is closed."""
        return self.suspended_at is not None

    def __repr__(self) -> str:
        return f"<CreatorProfile {self.slug}>"


class LoginSession(Model):
    """One device's login: both the session cookie and the remember cookie carry its token, so ending it ends both."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the token: a copy of this table logs nobody in.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    device: Mapped[str] = mapped_column(sa.String(80), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    def __repr__(self) -> str:
        return f"<LoginSession {self.id} of user {self.user_id}>"
