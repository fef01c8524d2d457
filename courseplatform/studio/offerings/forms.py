"""Studio forms for an offering's details."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from ...fields import HoursField, MoneyField, WholeNumberField, valid_slug
from ...integrations.payments import MINIMUM_CHARGE_CENTS
from ...models import MAX_INSTALMENTS, MIN_INSTALMENTS, Audience, OfferingKind

KIND_CHOICES = [SelectChoice(k.value, k.label) for k in OfferingKind]
PRICE_CHOICES = [
    SelectChoice("free", "Free"),
    SelectChoice("fixed", "Fixed price"),
    SelectChoice("sliding", "Sliding scale (learners choose, from a minimum)"),
]
MAX_TOPICS = 5


def _kind_value(value) -> str:
    return value.value if isinstance(value, OfferingKind) else str(value)


class TopicsField(StringField):
    """Topics typed as one line, separated by commas; an offering's own topics are shown the same way.

    The offering's list is turned into that line here, so a form posted without the field (or without
    any field) still holds text, never the list itself.
    """

    def process_data(self, value) -> None:
        if value is not None and not isinstance(value, str):
            value = ", ".join(topic.name for topic in value)
        super().process_data(value)


def _audience_value(value) -> str:
    return value.value if isinstance(value, Audience) else value


class OfferingForm(FlaskForm):
    # `coerce` turns the offering's OfferingKind (OfferingForm(obj=offering)) into its value, so the select shows it.
    kind = SelectField("Kind of offering", choices=KIND_CHOICES, coerce=_kind_value)
    title = StringField("Title", validators=[DataRequired(), Length(max=160)])
    slug = StringField(
        "Web address",
        validators=[Optional(), Length(min=3, max=160), valid_slug],
        description="The page will be at /courses/<this>. Leave empty to make one from the title.",
    )
    subtitle = StringField(
        "Subtitle",
        validators=[Optional(), Length(max=255)],
        description="One sentence: who it is for and what they gain.",
    )
    description = TextAreaField(
        "Description",
        validators=[Optional(), Length(max=20000)],
        description="Markdown: **bold**, *italic*, lists with -, links as [text](https://…).",
    )
    cover = FileField("Cover image", description="PNG, JPEG or WebP, up to 10 MB. A wide picture works best.")
    cover_asset_id = HiddenField()  # set by the uploader script once the image is in storage
    remove_cover = BooleanField("Remove the current cover image")
    price_kind = RadioField("Price", choices=PRICE_CHOICES, default="fixed")
    price_cents = MoneyField("Price", description="For a sliding scale, the suggested price.")
    sliding_scale_min_cents = MoneyField("Lowest amount a learner can pay")
    billing_interval = RadioField(
        "Memberships renew",
        choices=[SelectChoice("month", "Every month"), SelectChoice("year", "Every year")],
        default="month",
        validators=[Optional()],
        description="Memberships only: the price is for this long, and renews until the member cancels.",
    )
    plan_instalments = WholeNumberField(
        "Payment plan: number of monthly payments",
        validators=[
            Optional(),
            NumberRange(
                min=MIN_INSTALMENTS,
                max=MAX_INSTALMENTS,
                message=f"Enter from {MIN_INSTALMENTS} to {MAX_INSTALMENTS} payments, or leave it empty.",
            ),
        ],
        description="Fixed prices only. Learners may then pay in this many monthly payments. Leave empty for none.",
        render_kw={"min": MIN_INSTALMENTS, "max": MAX_INSTALMENTS, "inputmode": "numeric"},
    )
    plan_instalment_cents = MoneyField(
        "Each monthly payment", description="Leave empty to split the price evenly (rounded up to the cent)."
    )
    topics = TopicsField(
        "Topics",
        validators=[Optional(), Length(max=300)],
        description=f"Up to {MAX_TOPICS}, separated by commas, e.g. Anxiety, Trauma.",
    )
    ce_minutes = HoursField(
        "CE hours", description="Leave empty if the offering doesn't grant continuing-education hours."
    )
    ce_approval_statement = TextAreaField(
        "CE approval statement",
        validators=[Optional(), Length(max=2000)],
        description="Printed on certificates, e.g. the approving board and your provider number.",
    )
    authoring_minutes = HoursField(
        "Hours you spent making it", description="Only you see this: the revenue view uses it to show income per hour."
    )
    min_attendance_percent = WholeNumberField(
        "Minimum attendance for the certificate (%)",
        validators=[
            Optional(),
            NumberRange(min=1, max=100, message="Enter a percentage from 1 to 100, or leave it empty."),
        ],
        description=(
            "Live workshops: the share of all the sessions' minutes a learner must attend, as you record it "
            "on each session's attendance page. Leave empty for no minimum."
        ),
        render_kw={"min": 1, "max": 100, "inputmode": "numeric"},
    )
    attendance_grace_minutes = WholeNumberField(
        "Late arrival and early departure allowed (minutes)",
        validators=[
            Optional(),
            NumberRange(min=0, max=60, message="Enter a number of minutes from 0 to 60, or leave it empty."),
        ],
        description=(
            "Live workshops: a learner who joins later than this, leaves earlier or is away longer in between "
            "gets no credit for that session; within it, the whole session counts. Many accreditors use 15. "
            "Read from the join and leave times of an imported report (or the minutes you type)."
        ),
        render_kw={"min": 0, "max": 60, "inputmode": "numeric"},
    )
    checkin_required = BooleanField(
        "Learners check in with a code you show during each session",
        description="A session whose code you showed counts only for learners who entered it on the lesson page.",
    )
    audience = RadioField(
        "Who it is for",
        choices=[
            SelectChoice("clinicians", "Clinicians: training, consultation, continuing education"),
            SelectChoice("public", "The public: psychoeducation (education, not therapy)"),
        ],
        default="clinicians",
        coerce=_audience_value,
    )
    not_therapy_statement = TextAreaField(
        "Education, not therapy",
        validators=[Optional(), Length(max=2000)],
        description="Shown on the page and in every lesson of an offering for the public. Leave empty for ours.",
    )
    crisis_resources = TextAreaField(
        "Crisis resources",
        validators=[Optional(), Length(max=2000)],
        description="Shown first, on the page and in every lesson of an offering for the public. Leave empty for the "
        "crisis lines of the country you practise in (your creator profile).",
    )
    testimonials_unsolicited = BooleanField(
        "Its page quotes no testimonial I asked a current or former client for",
        description="Soliciting testimonials from clients is against the APA (5.05) and ACA (C.3.b) codes and many "
        "boards' rules: they can't freely say no. Needed to publish an offering for the public.",
    )
    sequential = BooleanField("Learners open lessons in order (each after the previous one is complete)")
    waitlist_only = BooleanField("Announce it, but take waitlist sign-ups instead of enrollments for now")

    def validate_price_cents(self, field) -> None:
        if self.price_kind.data == "free":
            return
        if not field.data:
            raise ValidationError("Enter a price, or choose Free.")
        if field.data < MINIMUM_CHARGE_CENTS:
            raise ValidationError("A paid price must be at least 0.50.")

    def validate_sliding_scale_min_cents(self, field) -> None:
        if self.price_kind.data != "sliding":
            return
        if not field.data:
            raise ValidationError("Enter the lowest amount a learner can pay.")
        if field.data < MINIMUM_CHARGE_CENTS:
            raise ValidationError("The lowest amount must be at least 0.50.")
        if self.price_cents.data and field.data > self.price_cents.data:
            raise ValidationError("The lowest amount can't be above the suggested price.")

    def validate_plan_instalment_cents(self, field) -> None:
        if not self.plan_instalments.data or self.price_kind.data != "fixed":
            return
        if field.data is not None and field.data < MINIMUM_CHARGE_CENTS:
            raise ValidationError("Each payment must be at least 0.50.")
        price = self.price_cents.data or 0
        if field.data is not None and field.data * self.plan_instalments.data < price:
            raise ValidationError("The payments add up to less than the price: raise each payment.")

    def validate_price_kind(self, field) -> None:
        if self.kind.data == OfferingKind.MEMBERSHIP.value and field.data != "fixed":
            raise ValidationError("A membership has a fixed price for each month or year: choose Fixed.")

    def validate_plan_instalments(self, field) -> None:
        if field.data and self.kind.data == OfferingKind.MEMBERSHIP.value:
            raise ValidationError("A membership is already paid monthly or yearly: leave this empty.")
        if field.data and self.price_kind.data != "fixed":
            raise ValidationError("Payment plans go with a fixed price: leave this empty, or choose Fixed.")
        price = self.price_cents.data or 0
        if field.data and self.plan_instalment_cents.data is None and -(-price // field.data) < MINIMUM_CHARGE_CENTS:
            raise ValidationError("Split this way, each payment would be under 0.50: choose fewer payments.")

    def plan_values(self) -> tuple[int | None, int | None]:
        """(plan_instalments, plan_instalment_cents): none, or the payments (the price split evenly if not given)."""
        count = self.plan_instalments.data
        if not count or self.price_kind.data != "fixed" or not self.price_cents.data:
            return None, None
        return count, self.plan_instalment_cents.data or -(-self.price_cents.data // count)

    def validate_ce_minutes(self, field) -> None:
        if field.data == 0:
            raise ValidationError("Leave CE hours empty, or enter more than 0.")
        if field.data and self.audience.data == "public":
            raise ValidationError("An offering for the public can't carry continuing-education credit.")

    def validate_ce_approval_statement(self, field) -> None:
        if (field.data or "").strip() and self.audience.data == "public":
            raise ValidationError("An offering for the public can't carry continuing-education credit.")

    def validate_topics(self, field) -> None:
        if len(topic_names(field.data)) > MAX_TOPICS:
            raise ValidationError(f"Choose at most {MAX_TOPICS} topics.")

    def price_values(self) -> tuple[int, int | None]:
        """(price_cents, sliding_scale_min_cents) for the chosen kind of price."""
        if self.price_kind.data == "free":
            return 0, None
        if self.price_kind.data == "sliding":
            return self.price_cents.data, self.sliding_scale_min_cents.data
        return self.price_cents.data, None


def topic_names(raw: str | None) -> list[str]:
    """`"Anxiety, trauma ,, Anxiety"` → `["Anxiety", "trauma"]` (case-insensitively unique, in order)."""
    seen: dict[str, str] = {}
    for part in (raw or "").split(","):
        name = " ".join(part.split())[:60]
        if name and name.lower() not in seen:
            seen[name.lower()] = name
    return list(seen.values())


class ConfirmForm(FlaskForm):
    """An empty form: a button that posts with a CSRF token."""
