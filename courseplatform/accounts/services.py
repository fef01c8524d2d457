"""Account rules: hashing, authentication, login sessions, reset tokens and creator profiles."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context, render_template
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from ua_parser import parse as parse_user_agent

from ..config import PASSWORD_HASHING
from ..extensions import db
from ..ids import parse_id
from ..integrations.mail import send_after_commit
from ..links import absolute_url
from ..models import (
    CreatorProfile,
    LoginSession,
    Offering,
    Order,
    OrderStatus,
    PaymentPlan,
    PlanStatus,
    User,
    utcnow,
)

RESET_SALT = "aqueduct.password-reset"
SIGNUP_SALT = "aqueduct.signup"
# How long the link that finishes a sign-up stays valid.
SIGNUP_MAX_AGE = 2 * 24 * 3600
# How long the set-password link in an invitation (an account made for someone) stays valid.
INVITE_MAX_AGE = 7 * 24 * 3600
# The most devices one account stays logged in on; a login beyond it ends the oldest.
MAX_LOGIN_SESSIONS = 20
# What a suspended account is told when it tries to log in (only after giving the right password).
SUSPENDED_MESSAGE = (
    "This account has been suspended, so it can't be used to log in. Write to support if you think this is a mistake."
)
# What Flask-Login keeps in both cookies: "<user id>:<login session token>".
_LOGIN_ID = re.compile(r"([0-9]{1,10}):([A-Za-z0-9_-]{20,100})")


class AccountError(ValueError):
    """A rule about accounts was broken; the message is safe to show the user next to `field`."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# New hashes are made with the application's PASSWORD_HASHING setting (OWASP's Argon2id minimum, see
# config.PASSWORD_HASHING; the tests' configuration alone sets lighter ones). Hashes made with other
# parameters still verify, and are re-made with the setting's at the next log-in.
@functools.cache
def _hashing(time_cost: int, memory_cost: int, parallelism: int) -> tuple[PasswordHasher, str]:
    """The hasher for these parameters, and a real hash of its own checked when the e-mail is unknown,
    so a wrong e-mail costs the same time as a wrong password and timing does not reveal who has an account."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    return hasher, hasher.hash("aqueduct-timing-equaliser")


def _current_hashing() -> tuple[PasswordHasher, str]:
    parameters = current_app.config["PASSWORD_HASHING"] if has_app_context() else PASSWORD_HASHING
    return _hashing(**parameters)


_hashing(**PASSWORD_HASHING)  # made at start, not during the first log-in


def hash_password(password: str) -> str:
    return _current_hashing()[0].hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Check a password in constant-ish time; rehash when the parameters have moved on."""
    if user is None:
        _spend_a_check(password)
        return False
    hasher = _current_hashing()[0]
    try:
        hasher.verify(user.password_hash, password)
    except VerificationError:
        return False
    except InvalidHashError:
        # No password chosen yet (an invited account): refused at once, it would answer faster than the rest.
        _spend_a_check(password)
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def _spend_a_check(password: str) -> None:
    """Take as long as checking a real password takes, for an account that has none (or doesn't exist)."""
    hasher, dummy_hash = _current_hashing()
    with contextlib.suppress(VerificationError):
        hasher.verify(dummy_hash, password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_user(login_id: str) -> User | None:
    """Flask-Login loader: the account whose live login session the cookie's token names, in one query."""
    match = _LOGIN_ID.fullmatch(login_id or "")
    if match is None or parse_id(match[1]) is None:
        return None  # also every cookie from before login sessions ("<id>:<session version>")
    row = db.session.execute(
        sa.select(User, LoginSession)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            User.id == int(match[1]),
            User.suspended_at.is_(None),
            LoginSession.token_hash == _token_hash(match[2]),
            LoginSession.expires_at > utcnow(),
        )
    ).first()
    if row is None:
        return None
    user, login_session = row
    user.login_session = login_session
    return user


def device_label(user_agent: str) -> str:
    """'Firefox on Ubuntu' from a User-Agent header, so people can tell their devices apart."""
    result = parse_user_agent(user_agent[:512])
    browser = result.user_agent.family if result.user_agent else None
    system = result.os.family if result.os else None
    if browser and system:
        return f"{browser} on {system}"[: LoginSession.device.type.length]
    if system:
        return f"A browser on {system}"[: LoginSession.device.type.length]
    return (browser or "")[: LoginSession.device.type.length]


def login_lifetime() -> timedelta:
    """How long a login lasts, remembered or not (REMEMBER_COOKIE_DURATION)."""
    duration = current_app.config["REMEMBER_COOKIE_DURATION"]
    return duration if isinstance(duration, timedelta) else timedelta(seconds=duration)


def start_login_session(user: User, user_agent: str = "") -> LoginSession:
    """Open a login on one device: a new token for both cookies (only its hash is kept).

    Every login goes through here, before the commit and login_user (User.get_login_id
    refuses a user who has no login session started). The account's
    expired sessions are cleared, and beyond MAX_LOGIN_SESSIONS the oldest ones end.
    """
    if user.is_suspended:
        raise AccountError(SUSPENDED_MESSAGE)
    now = utcnow()
    _end_sessions_beyond_the_limit(user, now)
    token = secrets.token_urlsafe(32)
    login_session = LoginSession(
        user_id=user.id,
        token_hash=_token_hash(token),
        device=device_label(user_agent),
        created_at=now,
        expires_at=now + login_lifetime(),
    )
    db.session.add(login_session)
    db.session.flush()
    user.login_session, user.login_token = login_session, token
    return login_session


def _end_sessions_beyond_the_limit(user: User, now: datetime) -> None:
    db.session.execute(sa.delete(LoginSession).where(LoginSession.user_id == user.id, LoginSession.expires_at <= now))
    surplus = (
        sa.select(LoginSession.id)
        .where(LoginSession.user_id == user.id)
        .order_by(LoginSession.created_at.desc(), LoginSession.id.desc())
        .offset(MAX_LOGIN_SESSIONS - 1)
    )
    db.session.execute(
        sa.delete(LoginSession).where(LoginSession.id.in_(surplus)), execution_options={"synchronize_session": False}
    )


def login_sessions_of(user: User) -> list[LoginSession]:
    """The devices the account is logged in on, newest first (one query, at most MAX_LOGIN_SESSIONS)."""
    return list(
        db.session.scalars(
            sa.select(LoginSession)
            .where(LoginSession.user_id == user.id, LoginSession.expires_at > utcnow())
            .order_by(LoginSession.created_at.desc(), LoginSession.id.desc())
            .limit(MAX_LOGIN_SESSIONS)
        )
    )


def end_login_session(login_session: LoginSession | None) -> None:
    """Log one device out: its session cookie, its remember cookie and every copy of them open nothing now."""
    if login_session is not None:
        # A statement, not session.delete(): the row may already be gone (a logout racing a password change).
        db.session.execute(sa.delete(LoginSession).where(LoginSession.id == login_session.id))


def end_device_session(user: User, session_id: int) -> LoginSession | None:
    """Log out one of the user's own devices from the account page; None if it isn't theirs (or is gone)."""
    if parse_id(session_id) is None:
        return None
    login_session = db.session.scalar(
        sa.select(LoginSession).where(LoginSession.id == session_id, LoginSession.user_id == user.id)
    )
    end_login_session(login_session)
    return login_session


def end_other_login_sessions(user: User, keep: LoginSession | None) -> int:
    """Log the account out everywhere but on the `keep` device; how many live devices were logged out."""
    now = utcnow()
    query = sa.delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep is not None:
        query = query.where(LoginSession.id != keep.id)
    db.session.execute(query.where(LoginSession.expires_at <= now))
    return db.session.execute(query.where(LoginSession.expires_at > now)).rowcount  # type: ignore[attr-defined]  # scoped_session.execute lacks the CursorResult overload


def prune_login_sessions() -> int:
    """Delete every expired login session (`flask prune-sessions`); how many went."""
    return db.session.execute(sa.delete(LoginSession).where(LoginSession.expires_at <= utcnow())).rowcount  # type: ignore[attr-defined]  # scoped_session.execute lacks the CursorResult overload


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(db.select(User).filter_by(email=User.normalize_email(email)))


def register_user(name: str, email: str, password: str, time_zone: str = "UTC") -> User:
    """Create a learner account; e-mails are unique whatever their case."""
    normalized = User.normalize_email(email)
    if find_user_by_email(normalized) is not None:
        raise AccountError("An account with this e-mail already exists. Log in, or reset your password.")
    user = User(
        name=name.strip(),
        email=normalized,
        password_hash=hash_password(password),
        time_zone=time_zone,
    )
    try:
        # A savepoint, so a concurrent sign-up with the same e-mail fails cleanly.
        with db.session.begin_nested():
            db.session.add(user)
    except IntegrityError as exc:
        raise AccountError("An account with this e-mail already exists. Log in, or reset your password.") from exc
    return user


def authenticate(email: str, password: str) -> User | None:
    """The account these credentials open, or None; AccountError for a suspended one (told only with its password)."""
    user = find_user_by_email(email)
    if not verify_password(user, password) or user is None:
        return None
    if user.is_suspended:
        raise AccountError(SUSPENDED_MESSAGE)
    user.last_login_at = utcnow()
    return user


def set_password(user: User, password: str, keep: LoginSession | None = None) -> None:
    """Store a new password, spend every reset link, and log out every device but `keep`."""
    user.password_hash = hash_password(password)
    user.session_version += 1
    end_other_login_sessions(user, keep)


def change_password(user: User, current_password: str, new_password: str) -> None:
    """A logged-in password change: other devices are logged out, this one stays."""
    if not verify_password(user, current_password):
        raise AccountError("Your current password is not right.")
    set_password(user, new_password, keep=user.login_session)


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def make_reset_token(user: User, *, invite: bool = False) -> str:
    # The session version is inside the token: once the password changes, the token is spent.
    payload = {"u": user.id, "v": user.session_version}
    if invite:
        payload["i"] = 1  # signed, so only the app can mint the longer-lived invitation
    return _reset_serializer().dumps(payload)


def password_link(user: User, *, invite: bool = False) -> str:
    """An absolute link to choose a password: a reset, or with `invite` an account made on someone's behalf.

    A reset link is valid PASSWORD_RESET_MAX_AGE seconds, an invitation INVITE_MAX_AGE.
    """
    return absolute_url("accounts.reset_password", token=make_reset_token(user, invite=invite))


def user_for_reset_token(token: str, max_age: int | None = None) -> User:
    """The user a reset or invitation link belongs to, or AccountError saying why it can't be used.

    A reset link lives PASSWORD_RESET_MAX_AGE seconds, an invitation INVITE_MAX_AGE,
    unless `max_age` says otherwise.
    """
    try:
        payload, signed_at = _reset_serializer().loads(token, return_timestamp=True)
    except BadSignature as exc:
        raise AccountError("This reset link is not valid. Ask for a new one below.") from exc
    invite = isinstance(payload, dict) and payload.get("i") == 1
    if max_age is None:
        max_age = INVITE_MAX_AGE if invite else current_app.config["PASSWORD_RESET_MAX_AGE"]
    if utcnow() - signed_at > timedelta(seconds=max_age):
        what = "invitation" if invite else "reset"
        raise AccountError(f"This {what} link has expired. Ask for a new one below.")
    user = db.session.get(User, payload.get("u")) if isinstance(payload, dict) else None
    if user is None or user.session_version != payload.get("v"):
        raise AccountError("This reset link has already been used. Ask for a new one below.")
    if user.is_suspended:
        raise AccountError(SUSPENDED_MESSAGE)
    return user


def send_password_reset(email: str) -> None:
    """E-mail a reset link to an account, or say there is none to an unknown address.

    Both cases send one message after the commit and answer the same way, so neither the
    page nor its timing tells whether an address has an account.
    """
    address = User.normalize_email(email)
    user = find_user_by_email(address)
    if user is None:
        send_after_commit(
            to=address,
            subject="About your Aqueduct password",
            text=render_template("accounts/email/reset_unknown.txt", signup_link=absolute_url("accounts.signup")),
        )
        return
    send_after_commit(
        to=user.email,
        subject="Reset your Aqueduct password",
        text=render_template(
            "accounts/email/reset.txt",
            user=user,
            link=password_link(user),
            minutes=current_app.config["PASSWORD_RESET_MAX_AGE"] // 60,
        ),
    )


@dataclass(frozen=True)
class SignupRequest:
    """What a person typed to sign up, carried by the signed link e-mailed to them."""

    name: str
    email: str
    time_zone: str
    next_path: str


def _signup_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SIGNUP_SALT)


def make_signup_token(name: str, email: str, time_zone: str, next_path: str) -> str:
    """The signed, expiring token of a sign-up link: who signs up, and where they go afterwards."""
    return _signup_serializer().dumps(
        {"n": name.strip(), "e": User.normalize_email(email), "z": time_zone, "x": next_path}
    )


def request_signup(name: str, email: str, time_zone: str, next_path: str) -> None:
    """E-mail a new address the link that finishes signing up, or an existing account a way back in.

    Nothing is stored until the link is opened; both cases send one message after the
    commit and answer the same way, so sign-up never tells whether an address has an account.
    """
    address = User.normalize_email(email)
    user = find_user_by_email(address)
    if user is not None:
        send_after_commit(
            to=user.email,
            subject="You already have an Aqueduct account",
            text=render_template(
                "accounts/email/signup_existing.txt",
                user=user,
                login_link=absolute_url("accounts.login"),
                reset_link=password_link(user),
                minutes=current_app.config["PASSWORD_RESET_MAX_AGE"] // 60,
            ),
        )
        return
    token = make_signup_token(name, address, time_zone, next_path)
    send_after_commit(
        to=address,
        subject="Finish creating your Aqueduct account",
        text=render_template(
            "accounts/email/signup.txt",
            name=name.strip(),
            link=absolute_url("accounts.finish_signup", token=token),
            hours=SIGNUP_MAX_AGE // 3600,
        ),
    )


def signup_request_for(token: str) -> SignupRequest:
    """The sign-up a link carries, or AccountError saying why the link can't be used."""
    try:
        payload = _signup_serializer().loads(token, max_age=SIGNUP_MAX_AGE)
    except SignatureExpired as exc:
        raise AccountError("This sign-up link has expired. Please sign up again.") from exc
    except BadSignature as exc:
        raise AccountError("This sign-up link is not valid. Please sign up again.") from exc
    if not isinstance(payload, dict) or not all(isinstance(payload.get(k), str) for k in "nezx"):
        raise AccountError("This sign-up link is not valid. Please sign up again.")
    return SignupRequest(name=payload["n"], email=payload["e"], time_zone=payload["z"], next_path=payload["x"])


def slug_taken(slug: str, exclude: CreatorProfile | None = None) -> bool:
    query = db.select(CreatorProfile.id).filter_by(slug=slug)
    if exclude is not None and exclude.id is not None:
        query = query.where(CreatorProfile.id != exclude.id)
    return db.session.scalar(query) is not None


def save_creator_profile(user: User, data: dict) -> CreatorProfile:
    """Create or update the user's creator profile from validated form data."""
    if slug_taken(data["slug"], exclude=user.creator_profile):
        raise AccountError("That address is taken; try another.", field="slug")
    profile = user.creator_profile or CreatorProfile()
    if profile.id is not None and data["currency"] != profile.currency and _has_offerings(profile):
        raise AccountError(
            "Your offerings are priced in " + profile.currency + "; the currency can't change once you have one.",
            field="currency",
        )
    try:
        # A savepoint, so a concurrent claim of the same address fails cleanly.
        with db.session.begin_nested():
            profile.user = user
            profile.display_name = data["display_name"].strip()
            profile.credentials = (data["credentials"] or "").strip()
            profile.licence = (data.get("licence") or "").strip()
            profile.country = data.get("country") or None
            profile.bio = (data["bio"] or "").strip()
            profile.slug = data["slug"]
            profile.currency = data["currency"]
            profile.default_session_fee_cents = data["default_session_fee_cents"]
            profile.default_session_minutes = data["default_session_minutes"]
            user.time_zone = data["time_zone"]
            db.session.add(profile)
    except IntegrityError as exc:
        raise AccountError("That address is taken; try another.", field="slug") from exc
    return profile


def _has_offerings(profile: CreatorProfile) -> bool:
    from ..models import Offering

    return db.session.scalar(db.select(Offering.id).filter_by(creator_id=profile.id).limit(1)) is not None


def orders_of(user: User) -> list[Order]:
    """The user's orders that reached a checkout, newest first, with their offerings (one query)."""
    return list(
        db.session.scalars(
            sa.select(Order)
            .where(Order.learner_id == user.id, Order.checkout_id.is_not(None) | (Order.status != OrderStatus.FAILED))
            .options(joinedload(Order.offering).joinedload(Offering.creator), joinedload(Order.plan))
            .order_by(Order.created_at.desc(), Order.id.desc())
        )
    )


def plans_of(user: User) -> list[PaymentPlan]:
    """The user's payment plans that started, newest first, with their offerings (one query)."""
    return list(
        db.session.scalars(
            sa.select(PaymentPlan)
            .where(
                PaymentPlan.learner_id == user.id,
                PaymentPlan.status.not_in((PlanStatus.PENDING, PlanStatus.ABANDONED)),
            )
            .options(joinedload(PaymentPlan.offering).joinedload(Offering.creator))
            .order_by(PaymentPlan.created_at.desc(), PaymentPlan.id.desc())
        )
    )


def receipt_order(user: User, order_id: int) -> Order | None:
    """One of the user's settled orders with its offering and refunds, or None."""
    order = db.session.scalar(
        sa.select(Order)
        .where(Order.id == order_id, Order.learner_id == user.id)
        .options(joinedload(Order.offering).joinedload(Offering.creator), selectinload(Order.refunds))
    )
    return order if order is not None and order.is_settled else None
