"""Forms of the studio's practice waitlist page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from ...fields import WholeNumberField, single_line, stripped, web_address
from ...practice import MAX_MESSAGE, MAX_SUBJECT

DEFAULT_SUBJECT = "A place has opened in my practice"
MOVES = [SelectChoice("up", "Up"), SelectChoice("down", "Down")]
RECIPIENTS = [
    SelectChoice("all", "Everyone on the list"),
    SelectChoice("first", "Only those who have waited longest"),
]


class PracticeWaitlistSettingsForm(FlaskForm):
    open = BooleanField("Take sign-ups on my waitlist page")
    message = TextAreaField(
        "What the page says first",
        validators=[Optional(), Length(max=2000)],
        filters=[stripped],
        description="E.g. “My practice is full until the spring. I keep a short waitlist and write to it in order "
        "when a place opens.” Plain text; a blank line starts a new paragraph.",
    )


class PracticeWaitlistMailForm(FlaskForm):
    # Made when the form is shown, kept by the job: the same form sent twice (a double click, the browser's
    # "resend") writes to the list once.
    send_key = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{32}$")])
    subject = StringField(
        "Subject",
        default=DEFAULT_SUBJECT,
        validators=[DataRequired(message="Give the e-mail a subject."), Length(max=MAX_SUBJECT), single_line],
        filters=[stripped],
    )
    message = TextAreaField(
        "Message",
        validators=[DataRequired(message="Write the message."), Length(max=MAX_MESSAGE)],
        filters=[stripped],
        description="Replies come to your account's e-mail. Each message ends with your name, the crisis lines "
        "and the person's own link to leave the list.",
    )
    recipients = RadioField("Write to", choices=RECIPIENTS, default="all")
    count = WholeNumberField(
        "How many",
        validators=[Optional(), NumberRange(min=1, max=100_000, message="Enter a number from 1 to 100,000.")],
        description="In the order they joined.",
    )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if valid and self.recipients.data == "first" and not self.count.data:
            self.count.errors = ["Say how many of those who have waited longest to write to."]
            return False
        return valid

    @property
    def limit(self) -> int | None:
        return self.count.data if self.recipients.data == "first" else None


class ReferralPartnerForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired(message="Give their name."), Length(max=120), single_line],
        filters=[stripped],
    )
    credentials = StringField(
        "Credentials",
        validators=[Optional(), Length(max=120), single_line],
        filters=[stripped],
        description="E.g. LMFT, PsyD.",
    )
    specialties = StringField(
        "Specialties",
        validators=[Optional(), Length(max=300), single_line],
        filters=[stripped],
        description="Who they see and how, e.g. “Adolescents, anxiety, OCD (ERP); sliding scale; telehealth in CA”.",
    )
    url = StringField(
        "Web page",
        validators=[Optional(), Length(max=500), web_address("https://example.com/dr-lee")],
        filters=[stripped],
        description="Their own site or directory listing, where people can contact them.",
    )


class MovePartnerForm(FlaskForm):
    direction = RadioField("Move", choices=MOVES, validators=[DataRequired()])
