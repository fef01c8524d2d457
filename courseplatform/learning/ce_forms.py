"""Forms for the steps to a certificate: the CE evaluation, the attestation, claiming a certificate."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from ..fields import stripped
from ..models import Profession
from .certificates import EVALUATION_STATEMENTS, MAX_COMMENTS, RATINGS


class EvaluationForm(FlaskForm):
    """The standard CE evaluation: each statement rated from 1 to 5, and an optional comment."""

    comments = TextAreaField(
        "What will you use in your practice?",
        description=f"Optional. Up to {MAX_COMMENTS:,} characters.",
        validators=[Length(max=MAX_COMMENTS, message=f"Please keep this under {MAX_COMMENTS:,} characters.")],
        filters=[stripped],
    )

    objective_texts: list[str] = []

    @property
    def statements(self):
        """The rating fields in the order they are asked: each learning objective, then the standard statements."""
        return [self[objective_field(n)] for n in range(len(self.objective_texts))] + [
            self[key] for key, _ in EVALUATION_STATEMENTS
        ]

    @property
    def objective_ratings(self) -> list[tuple[str, int]]:
        return [(text, self[objective_field(n)].data) for n, text in enumerate(self.objective_texts)]

    @property
    def ratings(self) -> dict[str, int]:
        return {key: self[key].data for key, _ in EVALUATION_STATEMENTS}


def _rating(statement: str) -> RadioField:
    return RadioField(
        statement,
        choices=[SelectChoice(value, label) for value, label in RATINGS],
        coerce=int,
        validators=[InputRequired(message="Choose how much you agree with this statement.")],
    )


for _key, _statement in EVALUATION_STATEMENTS:
    setattr(EvaluationForm, _key, _rating(_statement))


def objective_field(n: int) -> str:
    return f"objective_{n}"


def evaluation_form(objectives: list[str]) -> EvaluationForm:
    """The evaluation of an offering: one rating for each of its learning objectives, then the standard ones."""

    class OfferingEvaluationForm(EvaluationForm):
        objective_texts = list(objectives)

    for n, objective in enumerate(objectives):
        setattr(OfferingEvaluationForm, objective_field(n), _rating(f"I can now: {objective}"))
    return OfferingEvaluationForm()


class AttestationForm(FlaskForm):
    """The learner's signature: a box ticked under the attestation text."""

    attest = BooleanField(
        "I attest to the statement above.",
        validators=[DataRequired(message="Tick the box to sign the attestation, or come back when you can.")],
    )


class ClaimCertificateForm(FlaskForm):
    """Claim the certificate of completion of an offering without CE hours (a button)."""


class LicenceForm(FlaskForm):
    """A licence the learner holds: what their CE certificates state and which body they answer to."""

    profession = SelectField(
        "Profession",
        choices=[SelectChoice("", "Choose…")] + [SelectChoice(p.value, p.label) for p in Profession],
        default="",
        validators=[DataRequired(message="Choose the profession you are licensed in.")],
    )
    licence_type = StringField(
        "Licence",
        validators=[DataRequired(message="Enter the licence, e.g. LCSW."), Length(max=40)],
        description="As your board writes it: LCSW, LPC, LMFT, Psychologist…",
    )
    number = StringField(
        "Licence number", validators=[DataRequired(message="Enter your licence number."), Length(max=60)]
    )
    jurisdiction = StringField(
        "State or province",
        validators=[DataRequired(message="Enter the state or province that issued it."), Length(max=60)],
        description="e.g. California, or CA.",
    )

    @property
    def values(self) -> dict:
        return {
            "profession": Profession(self.profession.data),
            "licence_type": self.licence_type.data.strip(),
            "number": self.number.data.strip(),
            "jurisdiction": self.jurisdiction.data.strip(),
        }
