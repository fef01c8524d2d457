"""`flask seed-demo`: a believable therapist's year on Aqueduct, created once."""

from __future__ import annotations

import calendar
import random
import secrets
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ..accounts.services import find_user_by_email, hash_password
from ..extensions import db
from ..integrations.payments import estimated_fee
from ..integrations.storage import get_storage
from ..learning.certificates import EVALUATION_STATEMENTS, OBJECTIVES, attestation_text, issue_certificate
from ..media.probe import probe
from ..media.processing import build_ladder, record_facts
from ..models import (
    DEFAULT_STATEMENTS,
    AccessEvent,
    AccreditingBody,
    Attendance,
    Audience,
    BillingInterval,
    CECategory,
    CEClaim,
    Coupon,
    CouponKind,
    CreatorProfile,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    InstructionalLevel,
    LearnerLicence,
    Lesson,
    LessonKind,
    LessonProgress,
    LiveSession,
    MediaAsset,
    MediaStatus,
    Offering,
    OfferingEvaluation,
    OfferingKind,
    OfferingStatus,
    Order,
    OrderStatus,
    PayerKind,
    PaymentProvider,
    PracticeWaitlistEntry,
    Profession,
    ProviderApproval,
    QuizAttempt,
    QuizChoice,
    QuizQuestion,
    ReferralPartner,
    Refund,
    Section,
    SessionIncome,
    SessionIncomeSource,
    User,
    bundle_items,
    utcnow,
)
from ..studio.offerings.services import topics_for, unique_offering_slug

DEMO_PASSWORD = "aqueduct-demo"
THERAPIST_EMAIL = "demo-therapist@aqueduct.test"
LEARNER_EMAIL = "demo-learner@aqueduct.test"
ADMIN_EMAIL = "demo-admin@aqueduct.test"
HERE = Path(__file__).parent
ZONE = "America/New_York"
PLATFORM_FEE_PERCENT = 10


def seed_demo(now: datetime | None = None) -> bool:
    """Create the demo world unless it is already there. Returns whether anything was created."""
    if find_user_by_email(THERAPIST_EMAIL) is not None:
        return False
    now = now or utcnow()
    rng = random.Random(20261124)
    password_hash = hash_password(DEMO_PASSWORD)

    therapist = User(
        email=THERAPIST_EMAIL,
        name="Maya Okafor",
        password_hash=password_hash,
        time_zone=ZONE,
        created_at=now - timedelta(days=420),
    )
    learner = User(
        email=LEARNER_EMAIL,
        name="Jordan Lee",
        password_hash=password_hash,
        time_zone="America/Chicago",
        created_at=now - timedelta(days=60),
    )
    admin = User(email=ADMIN_EMAIL, name="Aqueduct Operator", password_hash=password_hash, is_admin=True)
    profile = CreatorProfile(
        user=therapist,
        slug="maya-okafor",
        display_name="Dr. Maya Okafor",
        credentials="LCSW, PhD",
        licence="Licensed Clinical Social Worker, New York #012345",
        country="US",
        bio=(
            "I'm a clinical social worker with eighteen years in community mental health and "
            "private practice. I teach the grounding and grief work I use every day, so that "
            "more clinicians can offer it, and so that I can see fewer clients without earning less."
        ),
        currency="USD",
        default_session_fee_cents=15000,
        default_session_minutes=50,
        # An approved CE provider: the policies every CE program shows.
        ce_provider_name="Okafor Clinical Training",
        ce_refund_policy=(
            "Full refund within 14 days of purchase if you have completed less than a quarter of the program."
        ),
        ce_grievance_policy=(
            "Write to training@okafor-clinical.example with your concern; we answer within 14 days, and an "
            "unresolved grievance goes to an independent reviewer."
        ),
        ce_accommodation_policy=(
            "Every video has captions and a transcript. For other accommodations, write to us before you start."
        ),
    )
    db.session.add_all([therapist, learner, admin, profile])
    db.session.flush()
    # The demo learner is a licensed clinical social worker: CE certificates answer to ASWB for them.
    db.session.add(
        LearnerLicence(
            user_id=learner.id,
            profession=Profession.SOCIAL_WORK,
            licence_type="LCSW",
            number="149.012345",
            jurisdiction="Illinois",
        )
    )
    for body, number in ((AccreditingBody.ASWB, "DEMO-1473"), (AccreditingBody.NBCC, "DEMO-7021")):
        db.session.add(
            ProviderApproval(
                creator=profile,
                body=body,
                provider_number=number,
                approved_from=(now - timedelta(days=400)).date(),
                approved_until=(now + timedelta(days=700)).date(),
                live_webinar=True,
                self_paced=True,
                statement=DEFAULT_STATEMENTS[body],
            )
        )

    # Topics are shared by all creators: reuse the ones that exist.
    topic_list = topics_for(["Anxiety", "Trauma", "Grief", "Couples", "Self-care", "Clinical skills"])
    topics = {t.name: t for t in topic_list}

    video = _store_asset(therapist, "welcome.mp4", "video/mp4", duration=6)
    worksheet = _store_asset(therapist, "grounding-worksheet.pdf", "application/pdf")

    grounding = _offering(
        profile,
        OfferingKind.COURSE,
        "Grounding Skills for Anxious Clients",
        "grounding-skills",
        "A practical, evidence-informed toolkit you can use in your next session.",
        price=12900,
        ce_minutes=180,
        authoring=2400,
        topics=[topics["Anxiety"], topics["Clinical skills"]],
        published=now - timedelta(days=380),
        description=(
            "Anxious clients often arrive too activated to use insight-based work. This course "
            "gives you **twelve grounding techniques**, when to use each, and how to teach them "
            "so clients practise between sessions.\n\n"
            "- Short demonstration videos\n- A printable client worksheet\n- A quiz to check your learning\n\n"
            "Approved for 3 CE hours."
        ),
    )
    # The course meets every rule of the two bodies it claims (checked by a test).
    grounding.ce_level = InstructionalLevel.INTERMEDIATE
    grounding.ce_category = CECategory.CLINICAL
    grounding.ce_audience = "Social workers, counselors and marriage and family therapists working with adults"
    grounding.ce_objectives = (
        "Describe the window of tolerance and how grounding widens it\n"
        "Choose a grounding technique to match a client's state of arousal\n"
        "Teach one technique so that the client practises it between sessions"
    )
    grounding.ce_presenters = "Dr. Maya Okafor, LCSW, PhD"
    grounding.ce_disclosure = "The presenter has no conflicts of interest. The program has no commercial support."
    grounding.ce_claims = [CEClaim(body=AccreditingBody.ASWB), CEClaim(body=AccreditingBody.NBCC)]
    intro = _section(grounding, "Foundations", 0)
    _lesson(intro, "Welcome and how to use this course", LessonKind.VIDEO, 0, media=video, preview=True, duration=6)
    _lesson(
        intro,
        "The window of tolerance",
        LessonKind.TEXT,
        1,
        body=(
            "The *window of tolerance* describes the zone of arousal in which a person can think, feel "
            "and relate at the same time.\n\nGrounding widens the window: it brings a client back from "
            "hyper- or hypo-arousal into a state where therapy can work."
        ),
    )
    _lesson(intro, "Client worksheet: 5-4-3-2-1", LessonKind.DOWNLOAD, 2, media=worksheet)
    practice = _section(grounding, "Techniques in practice", 1)
    _lesson(practice, "Sensory grounding, demonstrated", LessonKind.VIDEO, 0, media=video, duration=6)
    _lesson(
        practice,
        "Teaching grounding for home practice",
        LessonKind.TEXT,
        1,
        available_after_days=3,
        body=(
            "Ask the client to choose one technique and anchor it to a daily cue, such as making coffee.\n\n"
            "Review it at the start of the next session."
        ),
    )
    check = _section(grounding, "Check your learning", 2)
    quiz = _lesson(check, "Grounding quiz", LessonKind.QUIZ, 0)
    _quiz(
        quiz,
        [
            (
                "Grounding techniques mainly aim to…",
                [
                    ("Bring arousal back into the window of tolerance", True),
                    ("Uncover early memories", False),
                    ("Replace medication", False),
                ],
                "Grounding works on arousal, not insight: it widens the window of tolerance so therapy can work.",
            ),
            (
                "Which are sensory grounding techniques? (choose all that apply)",
                [("5-4-3-2-1 senses", True), ("Holding something cold", True), ("Free association", False)],
                "Both use the senses to bring attention into the present; free association does the opposite.",
            ),
            (
                "When is a client most likely to practise between sessions?",
                [("When the practice is tied to a daily cue", True), ("When given a long list of exercises", False)],
                "One technique anchored to something the client already does every day is the one that gets practised.",
            ),
        ],
    )

    grief = _offering(
        profile,
        OfferingKind.RECORDED_WORKSHOP,
        "Working with Grief After Suicide Loss",
        "grief-after-suicide-loss",
        "A recorded two-hour workshop for clinicians supporting survivors.",
        price=7900,
        sliding_min=3900,
        ce_minutes=120,
        authoring=900,
        topics=[topics["Grief"], topics["Trauma"]],
        published=now - timedelta(days=300),
        description=(
            "Suicide loss brings a grief unlike any other. In this recorded workshop we look at "
            "the research, the first sessions, and the clinician's own care.\n\nPay what you can: "
            "the sliding scale starts at $39."
        ),
    )
    part = _section(grief, "The workshop", 0)
    _lesson(part, "Part 1: What makes this grief different", LessonKind.VIDEO, 0, media=video, preview=True, duration=6)
    _lesson(part, "Part 2: The first three sessions", LessonKind.VIDEO, 1, media=video, duration=6)
    _lesson(
        part,
        "Resources for survivors",
        LessonKind.TEXT,
        2,
        body=("Share local survivor support groups and crisis lines with every client."),
    )
    _ce_program(
        grief,
        "Clinicians supporting adults bereaved by suicide",
        "Describe how grief after suicide loss differs from other bereavement\n"
        "Plan the first three sessions with a survivor\n"
        "Identify local and national supports for survivors",
    )
    _quiz(
        _lesson(part, "Post-test", LessonKind.QUIZ, 3),
        [
            (
                "Which feeling do survivors of suicide loss report more often than other bereaved people?",
                [("Guilt and responsibility for the death", True), ("Relief", False), ("Indifference", False)],
                "Survivors often ask what they missed: guilt is among the most common themes.",
            ),
        ],
    )

    couples = _offering(
        profile,
        OfferingKind.LIVE_WORKSHOP,
        "Couples in Crisis: A Live Case Consultation",
        "couples-in-crisis-live",
        "Two live evenings of case consultation, in a small group.",
        price=14900,
        ce_minutes=180,
        authoring=600,
        topics=[topics["Couples"], topics["Clinical skills"]],
        published=now - timedelta(days=20),
        description=(
            "Bring your hardest couples cases. Two live evenings, limited to 30 clinicians, with "
            "de-identified case presentations and a recording for those who can't make it."
        ),
    )
    _ce_program(
        couples,
        "Couples therapists and MFTs with an active caseload",
        "Formulate a de-identified couples case for consultation\n"
        "Apply one new intervention to a couple in crisis\n"
        "Recognise when a couple needs a higher level of care",
    )
    local = ZoneInfo(ZONE)
    welcome = _section(couples, "Orientation", 0)
    orientation = LiveSession(
        offering=couples,
        title="Orientation",
        time_zone=ZONE,
        duration_minutes=60,
        capacity=30,
        join_url="https://meet.example.com/aqueduct-demo-couples",
        starts_at=datetime.combine(
            (now.astimezone(local) - timedelta(days=3)).date(), time(19, 0), tzinfo=local
        ).astimezone(UTC),
        reminder_sent_at=now - timedelta(days=4),
    )
    db.session.add(orientation)
    db.session.flush()
    orientation.replay_asset_id = video.id
    _lesson(welcome, "Orientation: how the consultation works", LessonKind.LIVE, 0, live=orientation)
    sessions = _section(couples, "Live sessions", 1)
    for index, days in enumerate((12, 19)):
        day = (now.astimezone(local) + timedelta(days=days)).date()
        live = LiveSession(
            offering=couples,
            title=f"Evening {index + 1}",
            time_zone=ZONE,
            duration_minutes=120,
            capacity=30,
            join_url="https://meet.example.com/aqueduct-demo-couples",
            starts_at=datetime.combine(day, time(19, 0), tzinfo=local).astimezone(UTC),
        )
        db.session.add(live)
        _lesson(sessions, f"Evening {index + 1}: live consultation", LessonKind.LIVE, index, live=live)
    _lesson(
        sessions,
        "Before we meet",
        LessonKind.TEXT,
        2,
        preview=True,
        body=(
            "Please prepare one de-identified case: the couple's presenting problem, what you've tried, "
            "and where you feel stuck."
        ),
    )

    burnout = _offering(
        profile,
        OfferingKind.COURSE,
        "Burnout First Aid for Helpers",
        "burnout-first-aid",
        "A free 20-minute mini-course on noticing and easing compassion fatigue.",
        price=0,
        authoring=240,
        topics=[topics["Self-care"]],
        published=now - timedelta(days=200),
        description="Three short lessons on noticing burnout early, and one small change to make this week.",
    )
    mini = _section(burnout, "Mini-course", 0)
    _lesson(mini, "Noticing the early signs", LessonKind.VIDEO, 0, media=video, duration=6)
    _lesson(mini, "One small change", LessonKind.TEXT, 1, body="Choose one boundary to protect this week.")

    _bundle_and_coupons(profile, [grounding, grief], now)
    _consultation_circle(profile, grief, now)
    while_you_wait = _while_you_wait(profile, now)
    db.session.flush()
    _sales(rng, profile, [grounding, grief, couples], now, password_hash)
    _free_learners(rng, burnout, now)
    couples.min_attendance_percent = 100
    couples.attendance_grace_minutes = 15
    _learner_progress(learner, grounding, now)
    _learner_elsewhere(learner, couples, burnout, now)
    _attendance(rng, orientation)
    _class_progress(rng, [grounding, grief, burnout], now)
    _session_income(rng, profile, now)
    _practice_waitlist(rng, profile, while_you_wait, now)
    db.session.flush()
    return True


def _store_asset(owner: User, filename: str, content_type: str, duration: int | None = None) -> MediaAsset:
    key = f"demo/{filename}"
    storage = get_storage()
    with (HERE / filename).open("rb") as source:
        size = storage.save(key, source, content_type)
    asset = MediaAsset(
        owner=owner,
        storage_key=key,
        original_name=filename,
        content_type=content_type,
        size_bytes=size,
        status=MediaStatus.READY,
        duration_seconds=duration,
        confirmed_at=utcnow(),
    )
    if content_type.startswith(("video/", "audio/")):  # what `media.probe` and `media.ladder` do after an upload
        facts = probe(str(HERE / filename))
        record_facts(asset, facts)
        if not facts.is_audio_only:
            db.session.add(asset)
            db.session.flush()
            build_ladder(asset)
    db.session.add(asset)
    return asset


def _bundle_and_coupons(profile: CreatorProfile, items: list[Offering], now: datetime) -> None:
    """A bundle of two recorded programs (also in three monthly payments), a welcome code for everything and a
    code for reviewing colleagues."""
    kit = _offering(
        profile,
        OfferingKind.BUNDLE,
        "The Grounding & Grief Kit",
        "grounding-grief-kit",
        "Both recorded programs together, for less.",
        price=16900,
        authoring=20,
        published=now - timedelta(days=30),
        description=(
            "Grounding skills for anxious clients and the grief program, in one purchase: "
            "everything you need to start using both in sessions this month."
        ),
    )
    kit.plan_instalments, kit.plan_instalment_cents = 3, 5900  # or three monthly payments
    db.session.flush()
    db.session.execute(
        sa.insert(bundle_items), [{"bundle_id": kit.id, "item_id": o.id, "position": n} for n, o in enumerate(items)]
    )
    db.session.add_all(
        [
            Coupon(creator=profile, code="WELCOME20", kind=CouponKind.PERCENT, percent_off=20, max_redemptions=100),
            Coupon(
                creator=profile,
                code="COLLEAGUE",
                kind=CouponKind.PERCENT,
                percent_off=100,
                all_offerings=False,
                offerings=[items[0]],
                max_redemptions=5,
                expires_at=now + timedelta(days=60),
            ),
        ]
    )


def _while_you_wait(profile: CreatorProfile, now: datetime) -> Offering:
    """A free mini-course for the public: what the therapist's waiting list can use while they are full."""
    course = _offering(
        profile,
        OfferingKind.COURSE,
        "While You Wait: Steadying Anxiety",
        "while-you-wait",
        "Three short lessons for the weeks before therapy starts",
        price=0,
        published=now - timedelta(days=20),
        description=(
            "If you're waiting for a first appointment, these short lessons can help you steady anxious days: "
            "slow breathing, a wind-down for sleep, and what to do when worry turns dark."
        ),
        topics=[],
    )
    course.audience = Audience.PUBLIC
    course.testimonials_unsolicited = True
    lessons = _section(course, "Three short lessons", 0)
    _lesson(lessons, "Slow breathing", LessonKind.TEXT, 0, body="Breathe in for four, and out for six. Ten times.")
    _lesson(lessons, "A wind-down for sleep", LessonKind.TEXT, 1, body="An hour before bed, lights low, screens away.")
    dark = _lesson(
        lessons,
        "When worry turns dark",
        LessonKind.TEXT,
        2,
        body="Thoughts of not wanting to be here are a reason to reach out now, not to wait: use the line above.",
    )
    dark.content_note = "Discusses suicidal thoughts."
    return course


def _practice_waitlist(rng, profile: CreatorProfile, free: Offering, now: datetime) -> None:
    """The therapist's practice is full: a waitlist page, two colleagues taking clients, and people who joined
    over the last months, some of whom took the free mini-course (and one who has since left the list)."""
    profile.practice_waitlist_open = True
    profile.practice_waitlist_message = (
        "My practice is full, and I expect a place to open in the spring. I keep a short waitlist and write "
        "to it in order when a place opens.\n\n"
        "Meanwhile, my free mini-course may help steady the weeks before therapy, and the colleagues below "
        "are taking new clients now."
    )
    db.session.add_all(
        [
            ReferralPartner(
                creator=profile,
                name="Dr. Sam Lee",
                credentials="PsyD",
                specialties="Anxiety and OCD in adults (ERP); telehealth across New York; sliding scale",
                url="https://example.com/dr-sam-lee",
                position=1,
            ),
            ReferralPartner(
                creator=profile,
                name="Rosa Delgado",
                credentials="LMFT",
                specialties="Couples and families; Spanish and English; evenings",
                url="https://example.com/rosa-delgado",
                position=2,
            ),
        ]
    )
    learners = db.session.scalars(
        sa.select(User).where(User.email.like("learner%@aqueduct.test")).order_by(User.id.desc()).limit(5)
    ).all()
    for index, person in enumerate(learners):
        joined = now - timedelta(days=20 + 25 * index, hours=rng.randrange(24))
        db.session.add(PracticeWaitlistEntry(creator=profile, email=person.email, created_at=joined))
        db.session.add(
            Enrollment(
                user=person,
                offering=free,
                source=EnrollmentSource.FREE,
                enrolled_at=joined + timedelta(hours=rng.randrange(1, 72)),
            )
        )
    for index in range(9):
        joined = now - timedelta(days=3 + 17 * index, hours=rng.randrange(24))
        db.session.add(
            PracticeWaitlistEntry(creator=profile, email=f"waiting{index + 1}@aqueduct.test", created_at=joined)
        )
    db.session.add(
        PracticeWaitlistEntry(
            creator=profile,
            email=None,
            created_at=now - timedelta(days=110),
            left_at=now - timedelta(days=30),
            enrolled_before_leaving=True,
        )
    )


def _consultation_circle(profile: CreatorProfile, library: Offering, now: datetime) -> Offering:
    """A membership: a case consultation group meeting every other Tuesday (12 seats), and the grief recordings."""
    local = ZoneInfo(ZONE)
    group = _offering(
        profile,
        OfferingKind.LIVE_WORKSHOP,
        "Case Consultation Group",
        "case-consultation-group",
        "Bring a stuck case: twelve clinicians, every other Tuesday at noon.",
        price=9900,
        authoring=60,
        published=now - timedelta(days=420),
        description=(
            "A small, steady consultation group. Each meeting, two members present a de-identified case "
            "and the group works it through together. Open to members of The Consultation Circle."
        ),
    )
    meetings = _section(group, "Meetings", 0)
    today = now.astimezone(local).date()
    tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    for index in range(6):
        meeting = LiveSession(
            offering=group,
            title=f"Consultation {index + 1}",
            time_zone=ZONE,
            duration_minutes=75,
            capacity=12,
            join_url="https://meet.example.com/aqueduct-demo-circle",
            starts_at=datetime.combine(tuesday + timedelta(weeks=2 * index), time(12, 0), tzinfo=local).astimezone(UTC),
        )
        db.session.add(meeting)
        _lesson(meetings, f"Consultation {index + 1}", LessonKind.LIVE, index, live=meeting)
    circle = _offering(
        profile,
        OfferingKind.MEMBERSHIP,
        "The Consultation Circle",
        "consultation-circle",
        "A seat in the every-other-Tuesday consultation group, and the grief workshop's recordings.",
        price=4900,
        authoring=10,
        published=now - timedelta(days=420),
        description=(
            "Membership, $49 a month: your seat in the case consultation group (every other Tuesday at noon, "
            "twelve seats) and the recorded grief workshop. Cancel any time from My orders: you keep your "
            "seat until the end of the month you paid for."
        ),
    )
    circle.billing_interval = BillingInterval.MONTH
    db.session.flush()
    db.session.execute(
        sa.insert(bundle_items),
        [
            {"bundle_id": circle.id, "item_id": group.id, "position": 0},
            {"bundle_id": circle.id, "item_id": library.id, "position": 1},
        ],
    )
    return circle


def _offering(
    profile,
    kind,
    title,
    slug,
    subtitle,
    *,
    price,
    published,
    description="",
    sliding_min=None,
    ce_minutes=None,
    ce_statement="",
    authoring=0,
    topics=(),
) -> Offering:
    offering = Offering(
        creator=profile,
        kind=kind,
        title=title,
        slug=unique_offering_slug(slug),
        subtitle=subtitle,
        description=description,
        price_cents=price,
        sliding_scale_min_cents=sliding_min,
        currency=profile.currency,
        status=OfferingStatus.PUBLISHED,
        ce_minutes=ce_minutes,
        ce_approval_statement=ce_statement,
        authoring_minutes=authoring,
        topics=list(topics),
        published_at=published,
        created_at=published,
    )
    db.session.add(offering)
    return offering


def _ce_program(offering: Offering, audience: str, objectives: str) -> None:
    """The CE details the bodies ask for, and claims from the demo therapist's two approvals."""
    offering.ce_level = InstructionalLevel.INTERMEDIATE
    offering.ce_category = CECategory.CLINICAL
    offering.ce_audience = audience
    offering.ce_objectives = objectives
    offering.ce_presenters = "Dr. Maya Okafor, LCSW, PhD"
    offering.ce_disclosure = "The presenter has no conflicts of interest. The program has no commercial support."
    offering.ce_claims = [CEClaim(body=AccreditingBody.ASWB), CEClaim(body=AccreditingBody.NBCC)]


def _section(offering: Offering, title: str, position: int) -> Section:
    section = Section(offering=offering, title=title, position=position)
    db.session.add(section)
    return section


def _lesson(
    section,
    title,
    kind,
    position,
    *,
    media=None,
    preview=False,
    duration=None,
    body="",
    available_after_days=0,
    live=None,
) -> Lesson:
    lesson = Lesson(
        section=section,
        title=title,
        kind=kind,
        position=position,
        media_asset=media,
        is_preview=preview,
        duration_seconds=duration,
        body=body,
        available_after_days=available_after_days,
    )
    lesson.live_session = live
    db.session.add(lesson)
    return lesson


def _quiz(lesson: Lesson, questions) -> None:
    lesson.quiz_pass_percent = 67
    lesson.quiz_max_attempts = 3
    for q_index, (prompt, choices, explanation) in enumerate(questions):
        question = QuizQuestion(lesson=lesson, prompt=prompt, explanation=explanation, position=q_index)
        for c_index, (text, right) in enumerate(choices):
            question.choices.append(QuizChoice(text=text, is_correct=right, position=c_index))
        db.session.add(question)


def _paid_order(buyer: User, offering: Offering, amount: int, moment: datetime) -> Order:
    """A test-mode purchase paid at `moment`, with estimated fees as the test checkout records them."""
    processor, platform, net = _fees(amount)
    return Order(
        learner=buyer,
        offering=offering,
        amount_cents=amount,
        currency=offering.currency,
        provider=PaymentProvider.TEST,
        checkout_id=f"test_demo_{secrets.token_hex(8)}",
        payment_intent_id=f"test_intent_demo_{secrets.token_hex(8)}",
        status=OrderStatus.PAID,
        processor_fee_cents=processor,
        processor_fee_estimated=True,
        platform_fee_cents=platform,
        net_cents=net,
        created_at=moment,
        paid_at=moment,
    )


def _fees(amount: int) -> tuple[int, int, int]:
    """Estimated card fee (2.9% + 30¢), the platform fee, and what reaches the creator."""
    processor = estimated_fee(amount)
    platform = (amount * PLATFORM_FEE_PERCENT + 50) // 100
    return processor, platform, max(amount - processor - platform, 0)


def _sales(rng, profile, offerings, now: datetime, password_hash: str) -> None:
    """A year of purchases that grows month by month, with one full and one partial refund."""
    emails = [f"learner{n:02d}@aqueduct.test" for n in range(1, 81)]
    existing = {u.email: u for u in db.session.scalars(sa.select(User).where(User.email.in_(emails)))}
    joined = now - timedelta(days=400)
    buyers = [
        existing.get(email)
        or User(email=email, name=f"Demo learner {n}", password_hash=password_hash, created_at=joined)
        for n, email in enumerate(emails, start=1)
    ]
    db.session.add_all(buyers)
    db.session.flush()
    pairs = [(b, c) for b in buyers for c in offerings]
    rng.shuffle(pairs)
    local = ZoneInfo(ZONE)
    month_start = now.astimezone(local).date().replace(day=1)
    orders: list[Order] = []
    for months_ago in range(11, -1, -1):
        start = _add_months(month_start, -months_ago)
        days = calendar.monthrange(start.year, start.month)[1]
        for _ in range(4 + (11 - months_ago) * 2):
            if not pairs:
                break
            moment = datetime.combine(
                start + timedelta(days=rng.randrange(days)),
                time(rng.randrange(7, 22), rng.randrange(60)),
                tzinfo=local,
            ).astimezone(UTC)
            if moment > now:
                moment = now - timedelta(hours=rng.randrange(1, 48))
            # Nobody buys an offering before it is published.
            index = next((i for i in range(len(pairs) - 1, -1, -1) if pairs[i][1].published_at <= moment), None)
            if index is None:
                continue
            buyer, offering = pairs.pop(index)
            amount = offering.price_cents
            if offering.sliding_scale_min_cents is not None and rng.random() < 0.4:
                amount = offering.sliding_scale_min_cents
            order = _paid_order(buyer, offering, amount, moment)
            orders.append(order)
            db.session.add(order)
            db.session.add(
                Enrollment(
                    user=buyer, offering=offering, order=order, source=EnrollmentSource.PURCHASE, enrolled_at=moment
                )
            )
    if len(orders) > 10:
        full, partial = orders[5], orders[9]
        full.status, full.refunded_cents, full.refunded_at = OrderStatus.REFUNDED, full.amount_cents, full.paid_at
        partial.status = OrderStatus.PARTIALLY_REFUNDED
        partial.refunded_cents, partial.refunded_at = partial.amount_cents // 2, partial.paid_at
        for order, reason in ((full, "Couldn't attend after all"), (partial, "Goodwill partial refund")):
            db.session.add(
                Refund(
                    order=order,
                    amount_cents=order.refunded_cents,
                    platform_fee_refunded_cents=order.platform_fee_cents * order.refunded_cents // order.amount_cents,
                    reason=reason,
                    created_at=order.paid_at + timedelta(days=2),
                )
            )
            order.refunded_at = order.paid_at + timedelta(days=2)
        db.session.flush()
        full_enrollment = db.session.scalar(db.select(Enrollment).filter_by(order_id=full.id))
        full_enrollment.status, full_enrollment.reason = EnrollmentStatus.REVOKED, AccessEvent.REFUND
        full_enrollment.revoked_at = full.paid_at


def _free_learners(rng, offering: Offering, now: datetime) -> None:
    """The free mini-course is how many learners first meet the therapist."""
    buyers = db.session.scalars(
        sa.select(User).where(User.email.like("learner%@aqueduct.test")).order_by(User.id).limit(35)
    )
    for buyer in buyers:
        db.session.add(
            Enrollment(
                user=buyer,
                offering=offering,
                source=EnrollmentSource.FREE,
                enrolled_at=now - timedelta(days=rng.randrange(1, 200), hours=rng.randrange(24)),
            )
        )


def _learner_progress(learner: User, offering: Offering, now: datetime) -> None:
    """The demo learner bought the grounding course three weeks ago and is part-way through."""
    bought = now - timedelta(days=21)
    order = _paid_order(learner, offering, offering.price_cents, bought)
    enrollment = Enrollment(
        user=learner, offering=offering, order=order, source=EnrollmentSource.PURCHASE, enrolled_at=bought
    )
    db.session.add_all([order, enrollment])
    db.session.flush()
    first, second = offering.sections[0].lessons[:2]
    enrollment.last_lesson_id = offering.sections[0].lessons[2].id
    db.session.add_all(
        [
            LessonProgress(
                enrollment=enrollment, lesson_id=first.id, position_seconds=6, completed_at=bought + timedelta(hours=1)
            ),
            LessonProgress(enrollment=enrollment, lesson_id=second.id, completed_at=bought + timedelta(days=2)),
        ]
    )


def _learner_elsewhere(learner: User, live: Offering, free: Offering, now: datetime) -> None:
    """The demo learner also holds a seat in the live workshop and finished the free mini-course."""
    bought = now - timedelta(days=5)
    order = _paid_order(learner, live, live.price_cents, bought)
    db.session.add_all(
        [
            order,
            Enrollment(user=learner, offering=live, order=order, source=EnrollmentSource.PURCHASE, enrolled_at=bought),
        ]
    )
    started = now - timedelta(days=45)
    enrollment = Enrollment(user=learner, offering=free, source=EnrollmentSource.FREE, enrolled_at=started)
    db.session.add(enrollment)
    db.session.flush()
    _complete(enrollment, _lessons(free), started + timedelta(days=1))
    issue_certificate(enrollment).issued_at = enrollment.completed_at


def _attendance(rng, session: LiveSession) -> None:
    """Who came to the orientation, as the creator imported it from the meeting platform."""
    enrollments = db.session.scalars(
        sa.select(Enrollment).where(
            Enrollment.offering_id == session.offering_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Enrollment.enrolled_at < session.starts_at,
        )
    ).all()
    for enrollment in enrollments:
        minutes = 52 if enrollment.user.email == LEARNER_EMAIL else rng.choice([0, 35, 58, 60, 60])
        if minutes:
            db.session.add(
                Attendance(enrollment=enrollment, live_session=session, minutes_attended=minutes, source="import")
            )


def _class_progress(rng, offerings: list[Offering], now: datetime) -> None:
    """Other learners at every stage: just started, part-way, failed the quiz once, finished with a certificate."""
    for offering in offerings:
        lessons = _lessons(offering)
        enrollments = db.session.scalars(
            sa.select(Enrollment)
            .where(Enrollment.offering_id == offering.id, Enrollment.status == EnrollmentStatus.ACTIVE)
            .order_by(Enrollment.id)
        ).all()
        for enrollment in enrollments:
            if enrollment.user.email == LEARNER_EMAIL:
                continue
            reached = rng.choice([0, 1, len(lessons) // 2, len(lessons) - 1, len(lessons), len(lessons)])
            days = max(1, (now - enrollment.enrolled_at).days)
            done_at = enrollment.enrolled_at + timedelta(days=rng.randrange(days), hours=rng.randrange(1, 12))
            _complete(enrollment, lessons[:reached], min(done_at, now), rng)
            if enrollment.completed_at is None:
                continue
            if offering.ce_minutes:
                db.session.add(
                    OfferingEvaluation(
                        enrollment=enrollment,
                        ratings={
                            **{key: rng.choice([4, 5, 5]) for key, _statement in EVALUATION_STATEMENTS},
                            OBJECTIVES: [
                                {"text": objective, "rating": rng.choice([3, 4, 5, 5])}
                                for objective in offering.objectives
                            ],
                        },
                        comments=rng.choice(["", "I'll use the 5-4-3-2-1 exercise this week.", "Clear and practical."]),
                        submitted_at=enrollment.completed_at,
                        attestation_text=attestation_text(enrollment),
                        attested_at=enrollment.completed_at,
                    )
                )
            issue_certificate(enrollment).issued_at = enrollment.completed_at


def _lessons(offering: Offering) -> list[Lesson]:
    return [lesson for section in offering.sections for lesson in section.lessons]


def _complete(enrollment: Enrollment, lessons: list[Lesson], when: datetime, rng=None) -> None:
    """Lessons done in order (quizzes passed, some at the second try); the offering complete when all are."""
    for lesson in lessons:
        if lesson.kind is LessonKind.QUIZ:
            right = {str(q.id): [c.id for c in q.choices if c.is_correct] for q in lesson.questions}
            attempts = 2 if rng is not None and rng.random() < 0.3 else 1
            for number in range(1, attempts + 1):
                passed = number == attempts
                answers = right if passed else {key: [] for key in right} | dict(list(right.items())[:1])
                score = 100 if passed else 100 // max(1, len(right))
                db.session.add(
                    QuizAttempt(
                        enrollment_id=enrollment.id,
                        lesson_id=lesson.id,
                        attempt_number=number,
                        answers=answers,
                        score_percent=score,
                        passed=passed,
                        submitted_at=when,
                    )
                )
        db.session.add(LessonProgress(enrollment=enrollment, lesson_id=lesson.id, completed_at=when, updated_at=when))
    if lessons and len(lessons) == len(_lessons(enrollment.offering)):
        enrollment.completed_at = when
    db.session.flush()


def _session_income(rng, profile: CreatorProfile, now: datetime) -> None:
    """A year of 1:1 work: most weekdays, a few sessions a day, fewer as the courses grow."""
    today = now.astimezone(ZoneInfo(ZONE)).date()
    start = _add_months(today.replace(day=1), -11)
    day = start
    while day <= today:
        if day.weekday() < 5 and rng.random() < 0.9:
            months_in = (day.year - start.year) * 12 + day.month - start.month
            count = max(1, rng.randint(4, 7) - months_in // 4)
            insurance = rng.random() < 0.3
            fee = 11000 if insurance else profile.default_session_fee_cents
            db.session.add(
                SessionIncome(
                    creator=profile,
                    session_date=day,
                    sessions=count,
                    minutes_each=50,
                    amount_cents=count * fee,
                    currency=profile.currency,
                    payer_kind=PayerKind.INSURANCE if insurance else PayerKind.SELF_PAY,
                    source=SessionIncomeSource.MANUAL,
                )
            )
        day += timedelta(days=1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1, day=1)
