"""Forms for CE approvals, the provider's policies and an offering's CE details."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from ...continuing_education import PLACEHOLDER, PLACEHOLDERS
from ...fields import CalendarDateField
from ...learning.forms import CheckboxesField
from ...models import AccreditingBody, CECategory, CEFormat, InstructionalLevel

BODY_CHOICES = [SelectChoice(body.value, body.label) for body in AccreditingBody]
MAX_POLICY = 5000
MAX_LIST = 5000


class ApprovalForm(FlaskForm):
    """One body's approval: saving a body already on record updates it (a renewed period, say)."""

    body = SelectField("Accrediting body", choices=BODY_CHOICES)
    provider_number = StringField(
        "Provider or approval number",
        validators=[DataRequired(message="Enter the number your approval letter gives."), Length(max=60)],
    )
    approved_from = CalendarDateField("Approved from", validators=[InputRequired(message="Enter the first day.")])
    approved_until = CalendarDateField("Approved until", validators=[InputRequired(message="Enter the last day.")])
    live_in_person = BooleanField(CEFormat.LIVE_IN_PERSON.label)
    live_webinar = BooleanField(CEFormat.LIVE_WEBINAR.label)
    self_paced = BooleanField(CEFormat.SELF_PACED.label)
    statement = TextAreaField(
        "Approval statement",
        validators=[Optional(), Length(max=2000)],
        description="Leave empty for the body's usual wording. You may use {provider}, {number}, {hours}, "
        "{format}, {period_start} and {period_end}.",
    )

    def validate_approved_until(self, field) -> None:
        if field.data and self.approved_from.data and field.data < self.approved_from.data:
            raise ValidationError("The approval ends before it starts: check the two dates.")

    def validate_self_paced(self, field) -> None:
        if not (self.live_in_person.data or self.live_webinar.data or field.data):
            raise ValidationError("Tick at least one format the body approved you for.")

    def validate_statement(self, field) -> None:
        unknown = sorted(set(PLACEHOLDER.findall(field.data or "")) - set(PLACEHOLDERS))
        if unknown:
            raise ValidationError(
                f"“{{{unknown[0]}}}” isn't one we fill in: use {{provider}}, {{number}}, {{hours}}, {{format}}, "
                "{period_start} or {period_end}."
            )


class PoliciesForm(FlaskForm):
    """The provider's name and the policies every CE program shows."""

    ce_provider_name = StringField(
        "Provider name",
        validators=[Optional(), Length(max=160)],
        description="As your approvals name you, e.g. your practice. Leave empty to use your display name.",
    )
    ce_refund_policy = TextAreaField("Refund and cancellation policy", validators=[Optional(), Length(max=MAX_POLICY)])
    ce_grievance_policy = TextAreaField(
        "Grievance policy",
        validators=[Optional(), Length(max=MAX_POLICY)],
        description="How a learner raises a complaint, and how you answer it.",
    )
    ce_accommodation_policy = TextAreaField(
        "Accommodation policy (ADA)",
        validators=[Optional(), Length(max=MAX_POLICY)],
        description="How a learner with a disability asks for an accommodation.",
    )


class OfferingCEForm(FlaskForm):
    """What the bodies ask of a program, and which of the creator's approvals it claims."""

    claims = CheckboxesField("Credit claimed from", choices=[], validate_choice=False)
    ce_format = SelectField(
        "Format",
        default="",
        choices=[SelectChoice("", "As its kind says")] + [SelectChoice(f.value, f.label) for f in CEFormat],
    )
    ce_level = SelectField(
        "Instructional level",
        default="",
        choices=[SelectChoice("", "Choose…")] + [SelectChoice(lv.value, lv.label) for lv in InstructionalLevel],
    )
    ce_category = SelectField(
        "Credit category",
        default="",
        choices=[SelectChoice("", "Choose…")] + [SelectChoice(c.value, c.label) for c in CECategory],
    )
    ce_audience = StringField(
        "Target audience",
        validators=[Optional(), Length(max=300)],
        description="e.g. Licensed clinical social workers, counselors and MFTs working with adults.",
    )
    ce_objectives = TextAreaField(
        "Learning objectives",
        validators=[Optional(), Length(max=MAX_LIST)],
        description="One a line, each something a participant will be able to do, e.g. “Describe three "
        "grounding techniques”.",
    )
    ce_presenters = TextAreaField(
        "Presenters",
        validators=[Optional(), Length(max=MAX_LIST)],
        description="One a line: name, credentials, e.g. “Maya Lin, PhD, LCSW”.",
    )
    ce_disclosure = TextAreaField(
        "Conflicts of interest and commercial support",
        validators=[Optional(), Length(max=MAX_POLICY)],
        description="Write “None” if there are none.",
    )

    def offer(self, approved: list[AccreditingBody]) -> None:
        """Offer the bodies the creator holds an approval from."""
        self.claims.choices = [SelectChoice(body.value, body.label) for body in approved]

    @property
    def claimed(self) -> list[AccreditingBody]:
        """The ticked bodies among those offered (anything else posted is ignored)."""
        offered = {choice.value for choice in self.claims.choices}
        return [AccreditingBody(value) for value in dict.fromkeys(self.claims.data or []) if value in offered]
