"""Curriculum forms: sections, lessons, quiz questions and live sessions, with messages a creator can act on."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ...fields import LocalDateTimeField, WholeNumberField, web_address
from ...models import LessonKind

MIN_CHOICES = 2
MAX_CHOICES = 8

LESSON_KIND_LABELS = {
    LessonKind.VIDEO: "Video",
    LessonKind.TEXT: "Text",
    LessonKind.DOWNLOAD: "Download (a handout or worksheet)",
    LessonKind.QUIZ: "Quiz",
    LessonKind.LIVE: "Live session",
}


class SectionForm(FlaskForm):
    title = StringField(
        "Section title",
        validators=[DataRequired(message="Give the section a title."), Length(max=160)],
    )


class MoveForm(FlaskForm):
    """Up or down by one place; the buttons that send it work without JavaScript."""

    direction = SelectField(
        choices=[SelectChoice("up", "Up"), SelectChoice("down", "Down")], validators=[DataRequired()]
    )


class LessonForm(FlaskForm):
    title = StringField("Lesson title", validators=[DataRequired(message="Give the lesson a title."), Length(max=160)])
    kind = SelectField(
        "Kind of lesson", choices=[SelectChoice(k.value, label) for k, label in LESSON_KIND_LABELS.items()]
    )
    media_file = FileField("Upload the file")
    captions_file = FileField(
        "Captions (optional)",
        description="A WebVTT (.vtt) file, so learners can read along or watch without sound.",
    )
    # Set by the uploader script once a file has gone straight to storage and been checked.
    media_asset_id = HiddenField()
    captions_asset_id = HiddenField()
    live_session = SelectField("Which session", choices=[SelectChoice("", "Choose later")], default="")
    body = TextAreaField(
        "Text or notes",
        validators=[Optional(), Length(max=100_000)],
        description="Markdown. For a text lesson this is the lesson itself; for other kinds, notes shown with it.",
    )
    duration_minutes = WholeNumberField(
        "Length in minutes (optional)",
        validators=[Optional(), NumberRange(min=1, max=1440, message="Between 1 and 1440 minutes.")],
        description="Shown in the outline so learners can plan their time.",
    )
    available_after_days = WholeNumberField(
        "Opens after (days)",
        default=0,
        validators=[
            InputRequired(message="Enter 0 to open it straight away."),
            NumberRange(min=0, max=3650, message="Enter a number of days from 0 to 3650."),
        ],
        description="Days after a learner enrolls. 0 opens it straight away.",
    )
    is_preview = BooleanField("Free preview: anyone can open this lesson from the offering's page")
    content_note = StringField(
        "Content note (optional)",
        validators=[Optional(), Length(max=200)],
        description="Shown before the lesson, so people can prepare or skip it: “Discusses suicide and self-harm.”",
    )

    def set_choices(self, allow_live: bool, sessions: list[SelectChoice]) -> None:
        """Offer the live kind only to live workshops, and only this offering's sessions."""
        self.kind.choices = [
            SelectChoice(k.value, label)
            for k, label in LESSON_KIND_LABELS.items()
            if allow_live or k is not LessonKind.LIVE
        ]
        self.live_session.choices = [SelectChoice("", "Choose later"), *sessions]


class QuizSettingsForm(FlaskForm):
    pass_percent = WholeNumberField(
        "Pass mark (%)",
        validators=[
            InputRequired(message="Enter a pass mark from 0 to 100."),
            NumberRange(min=0, max=100, message="Enter a pass mark from 0 to 100."),
        ],
    )
    max_attempts = WholeNumberField(
        "Attempts allowed",
        validators=[Optional(), NumberRange(min=1, max=100, message="Leave it blank for unlimited, or 1 to 100.")],
        description="Leave blank for unlimited attempts.",
    )
    reveal_answers = BooleanField("Show learners which answers were wrong after each attempt")


class ChoiceForm(Form):
    text = StringField("Choice", validators=[Optional(), Length(max=500)])
    is_correct = BooleanField("Correct")


class QuestionForm(FlaskForm):
    prompt = TextAreaField(
        "Question", validators=[DataRequired(message="Write the question."), Length(max=2000)], render_kw={"rows": 3}
    )
    explanation = TextAreaField(
        "Explanation (optional)",
        validators=[Optional(), Length(max=5000)],
        description="Shown after answering, when learners may see which answers were wrong.",
        render_kw={"rows": 2},
    )
    choices = FieldList(FormField(ChoiceForm), min_entries=MAX_CHOICES, max_entries=MAX_CHOICES)

    def validate_choices(self, field) -> None:
        """Two choices with text at least, one of them right; a ticked empty row is a mistake, not a choice."""
        filled = [entry.form for entry in field.entries if (entry.form.text.data or "").strip()]
        if any(entry.form.is_correct.data and not (entry.form.text.data or "").strip() for entry in field.entries):
            raise ValidationError("A choice marked correct needs its text.")
        if len(filled) < MIN_CHOICES:
            raise ValidationError(f"Give at least {MIN_CHOICES} choices.")
        if not any(choice.is_correct.data for choice in filled):
            raise ValidationError("Mark at least one choice as correct.")

    def cleaned_choices(self) -> list[tuple[str, bool]]:
        """The filled rows in order, as (text, is_correct)."""
        return [
            (entry.form.text.data.strip(), bool(entry.form.is_correct.data))
            for entry in self.choices.entries
            if (entry.form.text.data or "").strip()
        ]


class LiveSessionForm(FlaskForm):
    title = StringField(
        "Title", validators=[Optional(), Length(max=160)], description="Optional, e.g. “Evening 1: assessment”."
    )
    starts_at = LocalDateTimeField(
        "Starts",
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        validators=[InputRequired(message="Choose the date and time it starts.")],
        invalid_value_message="Enter a date and time such as 2026-03-14 19:00.",
    )
    duration_minutes = WholeNumberField(
        "Length (min)",
        default=90,
        validators=[
            InputRequired(message="Enter how many minutes it lasts."),
            NumberRange(min=1, max=720, message="Enter a length from 1 to 720 minutes."),
        ],
    )
    capacity = WholeNumberField(
        "Seats",
        validators=[
            Optional(),
            NumberRange(min=1, max=100_000, message="Seats must be at least 1. Leave it blank for unlimited."),
        ],
        description="Leave blank for unlimited.",
    )
    join_url = StringField(
        "Join link",
        validators=[Optional(), Length(max=500), web_address("https://zoom.us/j/123")],
        description="Your Zoom, Meet or Teams link. Only enrolled learners see it.",
    )


class ReplayForm(FlaskForm):
    """The recording learners watch after a session: a new upload, or a video or audio file from the library."""

    asset = SelectField(
        "Recording from your files",
        choices=[SelectChoice("", "No replay")],
        default="",
        validate_choice=False,  # the service checks the file is the owner's, ready, and video or audio
    )
    recording = FileField(
        "Or upload the recording",
        description="An MP4, MOV or WebM video, or an MP3 or M4A audio file. Learners can watch it once you save.",
    )
    # Set by the uploader script once the file has gone straight to storage and been checked.
    recording_asset_id = HiddenField()

    def set_choices(self, recordings) -> None:
        """Offer the owner's ready video and audio files, newest first."""
        self.asset.choices = [
            SelectChoice("", "No replay"),
            *(SelectChoice(str(asset.id), asset.original_name) for asset in recordings),
        ]
