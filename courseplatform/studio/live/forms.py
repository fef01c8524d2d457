"""Attendance forms: minutes typed for each learner, and a meeting platform's report to import."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import FieldList, Form, FormField, HiddenField, SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional

from ...fields import WholeNumberField
from ...ids import parse_id

AUTOMATIC = SelectChoice("", "Find it automatically")


class CheckInCodeForm(FlaskForm):
    """The button that creates a session's check-in code: CSRF only."""


class AttendanceForm(FlaskForm):
    """Minutes attended for every learner on the page, saved at once; a blank box means not recorded."""

    def minutes_by_enrollment(self) -> dict[int, int | None]:
        """{enrollment id: minutes or None} for the rows sent (rows with a broken id are dropped)."""
        minutes: dict[int, int | None] = {}
        for entry in self.rows.entries:
            enrollment_id = parse_id(entry.form.enrollment_id.data)
            if enrollment_id is not None:
                minutes[enrollment_id] = entry.form.minutes.data
        return minutes


def attendance_form(max_minutes: int, **kwargs) -> AttendanceForm:
    """An AttendanceForm whose boxes take 0 to `max_minutes` (twice the session's length)."""
    message = f"Enter minutes from 0 to {max_minutes}, or leave it blank."

    class LearnerMinutes(Form):
        enrollment_id = HiddenField()
        minutes = WholeNumberField(
            "Minutes attended",
            validators=[Optional(), NumberRange(min=0, max=max_minutes, message=message)],
            render_kw={"min": 0, "max": max_minutes, "step": 1, "inputmode": "numeric"},
        )

    class SessionAttendanceForm(AttendanceForm):
        rows = FieldList(FormField(LearnerMinutes))

    return SessionAttendanceForm(**kwargs)


class AttendanceImportForm(FlaskForm):
    """A meeting platform's attendance report, and (when it isn't recognised) which columns to read."""

    file = FileField(
        "Attendance report (CSV)",
        validators=[FileRequired(message="Choose the attendance report your meeting platform exported.")],
        render_kw={"accept": ".csv,.tsv,.txt,text/csv,text/plain,text/tab-separated-values"},
        description=(
            "Zoom's participant report, or the attendance CSV from Google Meet or Microsoft Teams, up to 1 MB. "
            "People are matched to learners by e-mail; someone who rejoined has their minutes added up."
        ),
    )
    email_column = SelectField(
        "Column with the e-mail addresses", choices=[AUTOMATIC], default="", validate_choice=False
    )
    minutes_column = SelectField(
        "Column with the minutes attended", choices=[AUTOMATIC], default="", validate_choice=False
    )

    def offer_columns(self, headers: list[str]) -> None:
        """Let the creator choose the columns from the report's own header line."""
        choices = [AUTOMATIC, *(SelectChoice(name, name) for name in headers)]
        self.email_column.choices = choices
        self.minutes_column.choices = choices

    @property
    def asks_for_columns(self) -> bool:
        return len(self.email_column.choices) > 1
