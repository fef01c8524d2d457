"""Catalog forms: the course search (a GET form), the waitlists and the buy box."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..fields import QueryForm, stripped, valid_email
from ..models import OfferingKind, Topic

SORTS = {
    "relevance": "Best match",
    "newest": "Newest",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "title": "Title A–Z",
}
MAX_QUERY_LENGTH = 100


class OfferingSearchForm(QueryForm):
    """What a visitor typed and picked above the course list; read from the query string."""

    q = StringField("Search", validators=[Optional(), Length(max=MAX_QUERY_LENGTH)])
    topic = SelectField("Topic", validators=[Optional()])
    kind = SelectField(
        "Format",
        choices=[SelectChoice("", "All formats")] + [SelectChoice(k.value, k.label) for k in OfferingKind],
        validators=[Optional()],
    )
    sort = SelectField("Sort by", validators=[Optional()])

    def __init__(self, formdata, topics: list[Topic]) -> None:
        super().__init__(formdata)
        self.topic.choices = [SelectChoice("", "All topics")] + [SelectChoice(t.slug, t.name) for t in topics]
        # "Best match" means something only for a search, and is then what a visitor expects first.
        self.sort.choices = [SelectChoice(v, label) for v, label in SORTS.items() if v != "relevance" or self.query]
        self.sort.default = self.default_sort
        if not self.sort.raw_data:
            self.sort.data = self.default_sort
        self.settle()

    @property
    def query(self) -> str:
        return " ".join((self.q.data or "").split())

    @property
    def default_sort(self) -> str:
        return "relevance" if self.query else "newest"

    @property
    def is_filtered(self) -> bool:
        return bool(self.query or self.topic.data or self.kind.data)

    def url_args(self) -> dict[str, str]:
        """The filters as query-string arguments, leaving out the defaults (for page links)."""
        args = {"q": self.query, "topic": self.topic.data, "kind": self.kind.data}
        if self.sort.data != self.default_sort:
            args["sort"] = self.sort.data
        return {key: value for key, value in args.items() if value}


class WaitlistForm(FlaskForm):
    """One e-mail address asking to hear when an offering opens or a seat frees up."""

    email = EmailField(
        "Your e-mail",
        validators=[DataRequired(message="Enter your e-mail address."), Length(max=254), valid_email],
        filters=[stripped],
    )


class PracticeWaitlistForm(FlaskForm):
    """Joining a therapist's practice waitlist: an e-mail address and consent to be written to, nothing else.

    Only these two fields are read; anything else a request carries (a reason, symptoms) is never
    looked at, let alone stored.
    """

    email = EmailField(
        "Your e-mail",
        validators=[DataRequired(message="Enter your e-mail address."), Length(max=254), valid_email],
        filters=[stripped],
    )
    consent = BooleanField(
        "E-mail me when a place opens. I can leave the list at any time.",
        validators=[DataRequired(message="Tick the box so we may write to you about openings.")],
    )
