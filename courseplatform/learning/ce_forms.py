"""Forms for the steps to a certificate: the CE evaluation, the attestation, claiming a certificate."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from .certificates import EVALUATION_STATEMENTS, MAX_COMMENTS, RATINGS


class EvaluationForm(FlaskForm):
    """The standard CE evaluation: each statement rated from 1 to 5, and an optional comment."""

    comments = TextAreaField(
        "What will you use in your practice?",
        description=f"Optional. Up to {MAX_COMMENTS:,} characters.",
        validators=[Length(max=MAX_COMMENTS, message=f"Please keep this under {MAX_COMMENTS:,} characters.")],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )

    @property
    def statements(self):
        """The rating fields in the order the statements are asked."""
        return [self[key] for key, _ in EVALUATION_STATEMENTS]

    @property
    def ratings(self) -> dict[str, int]:
        return {key: self[key].data for key, _ in EVALUATION_STATEMENTS}


for _key, _statement in EVALUATION_STATEMENTS:
    setattr(
        EvaluationForm,
        _key,
        RadioField(
            _statement,
            choices=[SelectChoice(value, label) for value, label in RATINGS],
            coerce=int,
            validators=[InputRequired(message="Choose how much you agree with this statement.")],
        ),
    )


class AttestationForm(FlaskForm):
    """The learner's signature: a box ticked under the attestation text."""

    attest = BooleanField(
        "I attest to the statement above.",
        validators=[DataRequired(message="Tick the box to sign the attestation, or come back when you can.")],
    )


class ClaimCertificateForm(FlaskForm):
    """Claim the certificate of completion of an offering without CE hours (a button)."""
