"""Client-facing offerings: psychoeducation for the public, which must never read as therapy.

An offering for the public (`Audience.PUBLIC`) carries, on its page and in every lesson:
- a statement that it is education, not therapy (the creator's words, or `NOT_THERAPY`);
- crisis resources, first (the creator's words, or the lines of the country they practise in);
- the creator's title and licence, as state advertising rules for licensed clinicians ask;
and it can't be published with continuing-education credit, which is for clinicians, nor before the creator
confirms its page quotes no testimonial solicited from a client.
"""

from __future__ import annotations

from .models import Audience, CreatorProfile, Offering

NOT_THERAPY = (
    "This is education, not therapy. Taking it doesn't make you a client of {name}, and it can't diagnose or treat "
    "any condition. If you would like therapy, please reach out to a licensed professional."
)

# The crisis lines of the countries therapists here most often practise in (national, free, around the clock).
CRISIS_LINES = {
    "US": "Call or text 988 (Suicide & Crisis Lifeline), or call 911 in an emergency.",
    "CA": "Call or text 9-8-8 (Suicide Crisis Helpline), or call 911 in an emergency.",
    "GB": "Call Samaritans free on 116 123, text SHOUT to 85258, or call 999 in an emergency.",
    "IE": "Call Samaritans free on 116 123, text HELLO to 50808, or call 112 or 999 in an emergency.",
    "AU": "Call Lifeline on 13 11 14, or 000 in an emergency.",
    "NZ": "Call or text 1737 (Need to talk?), or call 111 in an emergency.",
}
ELSEWHERE = "Find a free, confidential helpline near you at findahelpline.com, or call your local emergency number."

# Where a creator may say they practise: the countries with a crisis line above, or elsewhere.
PRACTICE_COUNTRIES = {
    "US": "United States",
    "CA": "Canada",
    "GB": "United Kingdom",
    "IE": "Ireland",
    "AU": "Australia",
    "NZ": "New Zealand",
}


def is_client_facing(offering: Offering) -> bool:
    return offering.audience is Audience.PUBLIC


def crisis_resources(offering: Offering) -> str:
    """What someone in crisis should do now: the creator's words, or their country's lines."""
    if offering.crisis_resources.strip():
        return offering.crisis_resources.strip()
    return default_crisis_resources(offering.creator)


def default_crisis_resources(creator: CreatorProfile) -> str:
    return CRISIS_LINES.get(creator.country or "", ELSEWHERE)


def not_therapy_statement(offering: Offering) -> str:
    if offering.not_therapy_statement.strip():
        return offering.not_therapy_statement.strip()
    return default_not_therapy_statement(offering.creator)


def default_not_therapy_statement(creator: CreatorProfile) -> str:
    return NOT_THERAPY.format(name=creator.display_name)


def licence_shown(offering: Offering) -> str:
    """The creator's licence as an offering for the public shows it beside their name ("" for clinicians')."""
    return offering.creator.licence if is_client_facing(offering) else ""


def publish_problems(offering: Offering) -> list[str]:
    """What stops a client-facing offering from being published: CE credit (for clinicians only), and testimonials
    the creator hasn't confirmed were not solicited from clients."""
    if not is_client_facing(offering):
        return []
    problems = []
    if offering.ce_minutes or offering.ce_approval_statement.strip():
        problems.append(
            "An offering for the public can't carry continuing-education credit: remove its CE hours and approval "
            "statement, or make it an offering for clinicians (Details)."
        )
    if not offering.testimonials_unsolicited:
        problems.append(
            "Confirm on Details that its page quotes no testimonial you asked a current or former client for "
            "(APA 5.05, ACA C.3.b)."
        )
    return problems
