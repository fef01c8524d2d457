"""Production refuses to start with settings that would sell for nothing, lose mail or split rate limits."""

from __future__ import annotations

import pytest

from courseplatform import create_app
from courseplatform.accounts.services import hash_password
from courseplatform.config import ConfigError, load_config
from courseplatform.extensions import db
from courseplatform.models import Enrollment, Order

from ..factories import PASSWORD, LessonFactory, OfferingFactory, SectionFactory, UserFactory
from ..helpers import FAST_PASSWORD_HASHING

LONG_KEY = "a-long-random-production-secret-value-0123456789"
# A production deployment done right: every setting the check looks at.
SAFE_PRODUCTION = {
    "AQUEDUCT_ENV": "production",
    "SECRET_KEY": LONG_KEY,
    "DATABASE_URL": "postgresql://aqueduct@db.internal/aqueduct",
    "MAIL_BACKEND": "smtp",
    "SMTP_HOST": "smtp.example.com",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "BASE_URL": "https://learn.example.com",
    "STORAGE_BACKEND": "s3",
    "S3_BUCKET": "aqueduct-media",
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
}
CHECKED = [
    *SAFE_PRODUCTION,
    "AQUEDUCT_ALLOW_UNSAFE",
    "FLASK_DEBUG",
    "FLASK_ENV",
    "STRIPE_CONNECT_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "TRUSTED_PROXY_HOPS",
    "PLATFORM_FEE_PERCENT",
]


@pytest.fixture
def environment(monkeypatch):
    """A clean environment for load_config: nothing from the developer's shell."""
    for name in CHECKED:
        monkeypatch.delenv(name, raising=False)

    def setting(**values):
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    return setting


def refusal(tmp_path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    return str(caught.value)


def test_a_safe_production_configuration_starts(environment, tmp_path):
    environment(**SAFE_PRODUCTION)
    config = load_config(tmp_path)
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["TEST_CHECKOUT_ENABLED"] is False


def test_production_without_stripe_refuses_to_sell_through_the_test_checkout(environment, tmp_path):
    environment(**{**SAFE_PRODUCTION, "STRIPE_SECRET_KEY": None, "STRIPE_WEBHOOK_SECRET": None})
    message = refusal(tmp_path)
    assert "STRIPE_SECRET_KEY" in message
    assert "free-test-checkout" in message


def test_production_with_only_a_long_key_lists_every_unsafe_setting(environment, tmp_path):
    environment(AQUEDUCT_ENV="production", SECRET_KEY=LONG_KEY)
    message = refusal(tmp_path)
    for setting in ["STRIPE_SECRET_KEY", "DATABASE_URL", "MAIL_BACKEND", "REDIS_URL", "BASE_URL", "STORAGE_BACKEND"]:
        assert setting in message, f"{setting} is not named in: {message}"
    assert "- SECRET_KEY" not in message  # the key itself is fine


@pytest.mark.parametrize(
    ("changes", "named", "allowance"),
    [
        ({"DATABASE_URL": None}, "DATABASE_URL", "sqlite"),
        ({"DATABASE_URL": "sqlite:////srv/aqueduct.db"}, "DATABASE_URL", "sqlite"),
        ({"MAIL_BACKEND": "file"}, "MAIL_BACKEND", "file-mail"),
        ({"REDIS_URL": None}, "REDIS_URL", "memory-rate-limits in-process-jobs"),
        ({"JOB_RUNNER": "thread"}, "JOB_RUNNER", "in-process-jobs"),
        ({"BASE_URL": "http://127.0.0.1:5000"}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "https://localhost"}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "http://learn.example.com"}, "BASE_URL", "local-base-url"),
        # This machine or a private network, however the address is spelt.
        ({"BASE_URL": "https://localhost."}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "https://127.0.0.1."}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "https://127.1"}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "https://2130706433"}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "https://0x7f.0.0.1"}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "https://[::ffff:127.0.0.1]"}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "https://10.0.0.5"}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "https://192.168.1.20:8443"}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "https://127.0.0.1.nip.io"}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "https://learn-192-168-1-20.sslip.io"}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "https://intranet"}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "https://aqueduct.local"}, "BASE_URL", "local-base-url"),
        ({"BASE_URL": "https://learn.internal"}, "BASE_URL", "local-base-url"),
        ({"REDIS_URL": "MEMORY://"}, "REDIS_URL", "memory-rate-limits"),
        ({"STRIPE_SECRET_KEY": "sk_test_example"}, "STRIPE_SECRET_KEY", "stripe-test-keys"),
        ({"STRIPE_SECRET_KEY": "rk_test_example"}, "STRIPE_SECRET_KEY", "stripe-test-keys"),
        # A stand-in Stripe (stripe-mock, the tests' fake) says every checkout is paid.
        ({"STRIPE_API_BASE": "http://127.0.0.1:12111"}, "STRIPE_API_BASE", "stripe-api-base"),
        ({"STORAGE_BACKEND": "local"}, "STORAGE_BACKEND", "local-media"),
        ({"STRIPE_WEBHOOK_SECRET": None}, "STRIPE_WEBHOOK_SECRET", "stripe-without-webhooks"),
    ],
)
def test_each_unsafe_setting_is_refused_unless_allowed_by_name(environment, tmp_path, changes, named, allowance):
    environment(**{**SAFE_PRODUCTION, **changes})
    message = refusal(tmp_path)
    assert named in message
    assert all(name in message for name in allowance.split())

    environment(AQUEDUCT_ALLOW_UNSAFE=allowance)
    load_config(tmp_path)  # allowed knowingly: it starts


def test_a_short_or_default_secret_key_can_never_be_allowed(environment, tmp_path):
    environment(**{**SAFE_PRODUCTION, "SECRET_KEY": "short"}, AQUEDUCT_ALLOW_UNSAFE="sqlite secret-key")
    message = refusal(tmp_path)
    assert "- SECRET_KEY is the built-in development key, shorter than 32 characters" in message
    assert "secret-key, which is not a setting it can allow" in message


@pytest.mark.parametrize("value", ["1", "y", "2", "enabled"])
def test_the_debugger_is_never_allowed_in_production(environment, tmp_path, value):
    """Any FLASK_DEBUG that Flask itself reads as on (everything but 0, false and no)."""
    environment(**SAFE_PRODUCTION, FLASK_DEBUG=value)
    assert "FLASK_DEBUG" in refusal(tmp_path)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://learn.example.com",
        "HTTPS://Learn.Example.com",
        "https://learn.example.com:8443",
        "https://93.184.215.14",
    ],
)
def test_a_public_https_base_url_is_accepted(environment, tmp_path, base_url):
    environment(**{**SAFE_PRODUCTION, "BASE_URL": base_url})
    load_config(tmp_path)


@pytest.mark.parametrize("secret", [" " * 32, "a" * 48, "ab" * 24, "  " + "x" * 30 + "  "])
def test_a_secret_key_of_blanks_or_a_few_repeated_characters_is_refused(environment, tmp_path, secret):
    """Long enough by length alone, yet anyone could guess it."""
    environment(**{**SAFE_PRODUCTION, "SECRET_KEY": secret})
    assert "- SECRET_KEY" in refusal(tmp_path)


@pytest.mark.parametrize("spelling", ["Production", "PRODUCTION", " production "])
def test_production_spelt_in_capitals_or_with_spaces_is_production(environment, tmp_path, spelling):
    environment(AQUEDUCT_ENV=spelling, SECRET_KEY=LONG_KEY)
    assert "free-test-checkout" in refusal(tmp_path)


@pytest.mark.parametrize("name", ["prod", "staging", "live"])
def test_an_unknown_environment_name_is_refused_rather_than_run_as_development(environment, tmp_path, name):
    """A development start would sell through the test checkout; say so instead."""
    environment(AQUEDUCT_ENV=name, SECRET_KEY=LONG_KEY)
    message = refusal(tmp_path)
    assert f"AQUEDUCT_ENV is {name!r}" in message
    assert "'production' or 'development'" in message


def test_an_empty_aqueduct_env_falls_back_to_flask_env(environment, tmp_path):
    environment(AQUEDUCT_ENV="", FLASK_ENV="production", SECRET_KEY=LONG_KEY)
    assert "free-test-checkout" in refusal(tmp_path)


def test_a_misspelt_allowance_is_refused(environment, tmp_path):
    environment(**SAFE_PRODUCTION, AQUEDUCT_ALLOW_UNSAFE="sqlite, test-chekout")
    assert "test-chekout" in refusal(tmp_path)


def test_development_starts_with_the_embedded_defaults(environment, tmp_path):
    config = load_config(tmp_path)
    assert config["TEST_CHECKOUT_ENABLED"] is True


def test_a_test_checkout_allowed_in_production_still_works_as_a_test_checkout(environment, tmp_path):
    environment(
        AQUEDUCT_ENV="production",
        SECRET_KEY=LONG_KEY,
        AQUEDUCT_ALLOW_UNSAFE="free-test-checkout sqlite file-mail memory-rate-limits local-base-url local-media "
        "in-process-jobs",
    )
    config = load_config(tmp_path)
    assert config["TEST_CHECKOUT_ENABLED"] is True


def test_the_test_checkout_sells_nothing_when_it_is_off(app, web):
    """Defence in depth: with the test checkout off, its Pay button enrols nobody."""
    offering = OfferingFactory(price_cents=12900)
    LessonFactory(section=SectionFactory(offering=offering))
    learner = UserFactory()
    db.session.commit()
    web.login(learner.email, PASSWORD)
    start = web.submit(
        f"/courses/{offering.slug}/checkout", {}, form_url=f"/courses/{offering.slug}", follow_redirects=False
    )
    assert start.status_code in (302, 303)
    order = db.session.scalar(db.select(Order).where(Order.learner_id == learner.id))
    app.config["TEST_CHECKOUT_ENABLED"] = False
    try:
        paid = web.submit(
            f"/checkout/test/{order.id}/pay", {}, form_url=f"/courses/{offering.slug}", follow_redirects=False
        )
        assert paid.status_code == 404
        assert db.session.scalar(db.select(Enrollment).where(Enrollment.user_id == learner.id)) is None
    finally:
        app.config["TEST_CHECKOUT_ENABLED"] = True


def test_create_app_refuses_an_unsafe_production(environment):
    environment(AQUEDUCT_ENV="production", SECRET_KEY=LONG_KEY)
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY"):
        create_app()


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        # ProxyFix reads -1 as "the second address the client sent": anyone could pick the one limits count.
        ("TRUSTED_PROXY_HOPS", "-1", "TRUSTED_PROXY_HOPS must be from 0"),
        # Above 100 every paid checkout fails (the creator's share is negative); below 0 the platform pays.
        ("PLATFORM_FEE_PERCENT", "150", "PLATFORM_FEE_PERCENT must be from 0 to 100"),
        ("PLATFORM_FEE_PERCENT", "-5", "PLATFORM_FEE_PERCENT must be from 0 to 100"),
    ],
)
def test_a_number_outside_its_range_is_refused_in_any_environment(environment, tmp_path, name, value, says):
    environment(**{name: value})
    assert says in refusal(tmp_path)
    environment(**SAFE_PRODUCTION, **{name: value})
    assert says in refusal(tmp_path)


def test_production_hashes_passwords_at_owasps_argon2id_minimum(environment, tmp_path, app, monkeypatch):
    environment(**SAFE_PRODUCTION)
    production = load_config(tmp_path)
    assert production["PASSWORD_HASHING"] == {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}
    monkeypatch.setitem(app.config, "PASSWORD_HASHING", production["PASSWORD_HASHING"])
    assert hash_password(PASSWORD).startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_the_tests_light_password_hashing_is_refused_in_production(environment, tmp_path, app):
    # The suite's application hashes with Argon2id's lightest parameters, for speed; production never may.
    assert hash_password(PASSWORD).startswith("$argon2id$v=19$m=8,t=1,p=1$")
    environment(**SAFE_PRODUCTION)
    with pytest.raises(ConfigError, match=r"PASSWORD_HASHING .* lighter than OWASP's Argon2id minimum"):
        load_config(tmp_path, {"PASSWORD_HASHING": FAST_PASSWORD_HASHING})
