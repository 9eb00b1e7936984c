"""The closed loop: categories and filing conditions, cases, their immutable events,
approval requests, photos and reporters.

A case moves only through ``cases.workflow.perform`` (the transition table); nothing else
changes ``Case.stage``.
"""

import re

from django.conf import settings
from django.contrib.gis.db import models
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    COMPONENT = "C", _("Component")
    EVENT = "E", _("Event")


class Category(models.Model):
    """The GB/T 30428.2 tree: kind (C/E) → major → minor → (a city's own levels)."""

    kind = models.CharField(_("kind"), max_length=1, choices=Kind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    code = models.CharField(_("code"), max_length=2, help_text=_("Two digits at this level."))
    # C0101: kind + the codes of every level down to this one; used in case numbers.
    full_code = models.CharField(_("full code"), max_length=12, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    default_department = models.ForeignKey(
        "org.Department",
        verbose_name=_("default department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["full_code"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["C", "E"]), name="category_kind_valid"),
            models.CheckConstraint(
                condition=Q(code__regex=r"^[0-9]{2}$"), name="category_code_2_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_code} {self.name}"

    def save(self, *args, **kwargs):
        if self.parent_id:
            self.kind = self.parent.kind
            self.full_code = self.parent.full_code + self.code
        else:
            self.full_code = self.kind + self.code
        super().save(*args, **kwargs)

    @property
    def level(self) -> int:
        return (len(self.full_code) - 1) // 2

    def display_name(self) -> str:
        from django.utils.translation import get_language

        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name


class LimitUnit(models.TextChoices):
    URGENT_HOURS = "urgent_hours", _("urgent clock hours")
    WORKING_HOURS = "working_hours", _("working hours")
    WORKING_DAYS = "working_days", _("working days")
    CALENDAR_DAYS = "calendar_days", _("calendar days")


class FilingCondition(models.Model):
    """立案条件: when a problem of this class is filed, how long the department has
    (the disposal limit) and what counts as fixed (the closing condition)."""

    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="conditions"
    )
    condition = models.TextField(_("filing condition"))
    limit_value = models.DecimalField(_("disposal limit"), max_digits=6, decimal_places=1)
    limit_unit = models.CharField(_("unit"), max_length=15, choices=LimitUnit.choices)
    closing_condition = models.TextField(_("closing condition"))
    default_department = models.ForeignKey(
        "org.Department",
        verbose_name=_("default department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["category__full_code", "id"]
        verbose_name = _("filing condition")
        verbose_name_plural = _("filing conditions")
        constraints = [
            models.CheckConstraint(condition=Q(limit_value__gt=0), name="condition_limit_positive"),
            models.CheckConstraint(
                condition=Q(limit_unit__in=[u.value for u in LimitUnit]),
                name="condition_unit_valid",
            ),
        ]

    def __str__(self) -> str:
        limit = f"{self.limit_value} {self.get_limit_unit_display()}"
        return f"{self.category.full_code}: {self.condition} ({limit})"


class Stage(models.TextChoices):
    """Where a case stands in the closed loop (DOMAIN.md §3)."""

    VERIFYING = "verifying", _("Awaiting verification")
    REPORTED = "reported", _("Reported")
    NOT_ACCEPTED = "not_accepted", _("Not accepted")
    FILED = "filed", _("Filed")
    DISPATCHED = "dispatched", _("Dispatched")
    IN_PROGRESS = "in_progress", _("Being handled")
    ON_HOLD = "on_hold", _("On hold")
    CHECKING = "checking", _("Awaiting on-site check")
    CLOSED = "closed", _("Closed")
    VOIDED = "voided", _("Void")
    SELF_HANDLED = "self_handled", _("Self-handled, awaiting audit")
    ARCHIVED = "archived", _("Self-handled, archived")
    INVALID = "invalid", _("Invalid")
    MERGED = "merged", _("Merged into another case")


# A clock turns yellow at this share of the time it allows (green < 80 %, yellow 80-100 %).
WARN_SHARE = 0.8

OPEN_STAGES = [
    Stage.VERIFYING,
    Stage.REPORTED,
    Stage.FILED,
    Stage.DISPATCHED,
    Stage.IN_PROGRESS,
    Stage.ON_HOLD,
    Stage.CHECKING,
    Stage.SELF_HANDLED,
]


# A phone number as a caller gives it: a mobile (13800000000), a landline with its area code
# (010-65123456), a service line (12345, 400 800 1234), an optional extension (转 123, ext
# 123). Spaces, "-", "+" and brackets are kept as typed; letters are a typing error.
PHONE = re.compile(r"\+?[\d\s\-()]+(?:\s*(?:转|分机|ext\.?|x)\s*\d{1,6})?", re.IGNORECASE)


def validate_phone(value: str) -> None:
    digits = sum(ch.isdigit() for ch in value)
    if value and (not PHONE.fullmatch(value.strip()) or not 5 <= digits <= 20):
        raise ValidationError(
            _('Enter a phone number: digits, with spaces, "-" or "+" if you like.'),
            code="phone",
        )


class Source(models.TextChoices):
    PATROL = "patrol", _("Grid worker patrol")
    HOTLINE = "hotline", _("Hotline")
    PUBLIC = "public", _("Public (app, API)")
    LEADER = "leader", _("Leader's instruction")
    VIDEO = "video", _("Video surveillance")


# Reports that a grid worker must first confirm on site (核实).
SOURCES_NEEDING_VERIFICATION = [Source.HOTLINE, Source.PUBLIC]


class Urgency(models.TextChoices):
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent")


class Supervision(models.IntegerChoices):
    NONE = 0, _("None")
    NORMAL = 1, _("Supervision order")
    YELLOW = 2, _("Yellow card")
    RED = 3, _("Red card")


def sees_every_case(user) -> bool:
    """The centre and supervisors: ``Case.objects.visible_to`` holds every case for them."""
    from org.models import Role

    return user.has_role(Role.DISPATCHER, Role.SHIFT_LEADER, Role.SUPERVISOR, Role.ADMINISTRATOR)


def light_expression(now) -> models.Case:
    """The traffic light of the whole-case clock as a SQL expression ("green", "yellow",
    "red" or NULL), the same rule as ``Case.light()``: lists, the map and the dashboard
    all use this one definition."""
    return models.Case(
        models.When(~Q(stage__in=OPEN_STAGES) | Q(filed_at__isnull=True), then=models.Value(None)),
        models.When(deadline__lt=now, then=models.Value("red")),
        models.When(warn_at__lte=now, then=models.Value("yellow")),
        default=models.Value("green"),
        output_field=models.CharField(),
    )


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CaseQuerySet":
        """What each role may see: the centre and supervisors everything; an officer
        their departments' cases; a grid worker the cases in their grids, those sent to them
        to check, and those they reported (first, or joined later: they follow it to the end)."""
        from org.models import Role

        if not user.is_authenticated:
            return self.none()
        if sees_every_case(user):
            return self
        scope = Q(pk__in=[])
        if user.has_role(Role.OFFICER):
            scope |= Q(department__in=user.departments.all())
        if user.has_role(Role.GRID_WORKER):
            from grids.models import UnitGrid

            scope |= (
                Q(grid__in=UnitGrid.objects.covered_by(user))
                | Q(reporter=user)
                | Q(field_worker=user)
                | Q(pk__in=CaseReporter.objects.filter(user=user).values("case_id"))
            )
        return self.filter(scope)

    def submitted(self, user, submission) -> "CaseQuerySet":
        """The case that ``user``'s report with this key (``CaseReporter.submission``) made:
        a report sent again finds it rather than making another."""
        return self.filter(reporters__user=user, reporters__submission=submission)

    def open(self) -> "CaseQuerySet":
        return self.filter(stage__in=OPEN_STAGES)

    def with_light(self, now=None) -> "CaseQuerySet":
        """Annotate ``traffic_light`` ("green", "yellow", "red" or None) in SQL, exactly as
        ``Case.light()`` computes it from the whole-case clock's deadline and warning."""
        return self.annotate(traffic_light=light_expression(now or timezone.now()))


class Case(models.Model):
    # Unique through a constraint in Meta: ``unique=True`` would add a second index for
    # LIKE searches on PostgreSQL, which nothing makes (a case is found by its whole number).
    number = models.CharField(_("case number"), max_length=24, null=True, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reported by"),
        null=True,
        on_delete=models.PROTECT,
        related_name="reported_cases",
        db_index=False,
    )
    # A citizen's own details, for hotline and public reports; shown only to roles that
    # must call them back.
    citizen_name = models.CharField(_("citizen's name"), max_length=100, blank=True)
    citizen_phone = models.CharField(_("citizen's phone"), max_length=30, blank=True)

    point = models.PointField(_("position"), srid=4326)
    address = models.CharField(_("address"), max_length=255, blank=True)
    grid = models.ForeignKey(
        "grids.UnitGrid",
        verbose_name=_("unit grid"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        db_index=False,
    )
    community = models.ForeignKey(
        "grids.Area",
        verbose_name=_("community"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    street = models.ForeignKey(
        "grids.Area",
        verbose_name=_("street"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    district = models.ForeignKey(
        "grids.Area",
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="cases"
    )
    # No index (nor on routing_rule): nothing looks cases up by them, only the rare
    # deletion of a condition or rule (a scan then), while every case written pays for one.
    condition = models.ForeignKey(
        FilingCondition,
        verbose_name=_("filing condition"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        db_index=False,
    )
    description = models.TextField(_("description"))
    urgency = models.CharField(
        _("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL
    )

    stage = models.CharField(_("stage"), max_length=15, choices=Stage.choices)
    department = models.ForeignKey(
        "org.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        db_index=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_cases",
    )
    # The grid worker who must verify or check on site.
    field_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("field worker"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="field_cases",
        db_index=False,
    )
    # The whole-case clock's deadline and its 80 % moment, and the nearest deadline of any
    # open clock of the case (kept by clocks.services.clocks_update in the transition's
    # transaction). While the case is on hold the deadline and warning are empty unless
    # already passed, so the light computed from them stays what it was when paused.
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warning from"), null=True, blank=True)
    due_at = models.DateTimeField(_("next deadline"), null=True, blank=True)
    supervision = models.PositiveSmallIntegerField(
        _("supervision"), choices=Supervision.choices, default=Supervision.NONE
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_cases",
    )
    # Set when filed, cleared once routing decided: a case whose routing task was lost
    # (broker down, worker killed) is found and routed again by a periodic sweep.
    needs_routing = models.BooleanField(_("waiting for routing"), default=False, db_default=False)
    routing_rule = models.ForeignKey(
        "RoutingRule",
        verbose_name=_("routing rule"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    rework_count = models.PositiveSmallIntegerField(_("reworks"), default=0)
    return_count = models.PositiveSmallIntegerField(_("returns"), default=0)

    reported_at = models.DateTimeField(_("reported at"), default=timezone.now)
    filed_at = models.DateTimeField(_("filed at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Raised by every transition: a form or API call that acted on an older version is
    # refused with "this case changed, reload" instead of overwriting someone's action.
    version = models.PositiveIntegerField(_("version"), default=1)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-reported_at"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        # The department, grid, field worker and reporter foreign keys have no index of
        # their own: each leads one of these, which serves the same lookups, and every
        # index costs writes (generate_cases, intake).
        indexes = [
            models.Index(fields=["department", "stage", "due_at"], name="case_inbox"),
            models.Index(fields=["stage", "deadline"], name="case_stage_deadline"),
            models.Index(fields=["grid", "stage"], name="case_grid_stage"),
            models.Index(fields=["reporter", "-reported_at"], name="case_reporter"),
            models.Index(fields=["field_worker", "stage"], name="case_field_worker"),
            models.Index(
                fields=["filed_at"], condition=Q(needs_routing=True), name="case_unrouted"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(stage__in=[s.value for s in Stage]), name="case_stage_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=[s.value for s in Source]), name="case_source_valid"
            ),
            models.UniqueConstraint(fields=["number"], name="case_number_unique"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """The case number once filed; before that a provisional reference."""
        return self.number or f"#{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES

    def light(self, now=None) -> str | None:
        """Traffic light of the whole-case clock: green below 80 % of the time allowed,
        yellow to 100 %, red past it; None before filing and once closed. The same rule
        as ``CaseQuerySet.with_light`` (which lists use)."""
        if now is None and hasattr(self, "traffic_light"):
            return self.traffic_light
        if not self.is_open or self.filed_at is None:
            return None
        now = now or timezone.now()
        if self.deadline is not None and self.deadline < now:
            return "red"
        if self.warn_at is not None and self.warn_at <= now:
            return "yellow"
        return "green"

    def field_worker_for_check(self):
        """Who goes on site to verify or check: the grid's responsible worker, else its
        deputy, else a grid worker who reported it."""
        from org.models import Role

        today = timezone.localdate()
        if self.grid_id is not None:
            # The deputy covers while the responsible worker is on leave.
            for assignment in (self.grid.responsible(), self.grid.deputy()):
                if (
                    assignment is not None
                    and assignment.worker.is_active
                    and not assignment.worker.on_leave(today)
                ):
                    return assignment.worker
        if self.reporter is not None and self.reporter.has_role(Role.GRID_WORKER):
            return self.reporter
        return None


class CaseEvent(models.Model):
    """One transition of one case: who, when, from, to, what and why. Never changed or
    deleted (refused by the model, and by a trigger on PostgreSQL)."""

    # Indexed by caseevent_case_at (case, at), which serves every lookup by case.
    case = models.ForeignKey(
        Case,
        verbose_name=_("case"),
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
    )
    # Not indexed: nothing lists events by actor, and every transition and every generated
    # history would pay for the index (2.4 s of the 8 s that the event indexes take to
    # build at a million cases). Deleting a person who acted is refused (PROTECT) after a
    # scan; people leave by being deactivated.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    action = models.CharField(_("action"), max_length=30)
    from_stage = models.CharField(_("from"), max_length=15, blank=True)
    to_stage = models.CharField(_("to"), max_length=15)
    reason = models.TextField(_("reason"), blank=True)
    payload = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        indexes = [models.Index(fields=["case", "at"], name="caseevent_case_at")]

    def __str__(self) -> str:
        return f"{self.case}: {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Case events are immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Case events are immutable.")


class CaseRequest(models.Model):
    """A request that another role must approve: void, return, extension, hold."""

    class Kind(models.TextChoices):
        VOID = "void", _("Void")
        RETURN = "return", _("Return to dispatcher")
        EXTENSION = "extension", _("Deadline extension")
        HOLD = "hold", _("Hold")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="requests"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    reason = models.TextField(_("reason"))
    # For an extension: {"hours": 8} or {"deadline": iso}; for a return: nothing.
    payload = models.JSONField(_("details"), default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        constraints = [
            # One open request of a kind per case: a second would be decided twice.
            models.UniqueConstraint(
                fields=["case", "kind"],
                condition=Q(status="pending"),
                name="caserequest_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case}: {self.get_kind_display()} ({self.get_status_display()})"


class Photo(models.Model):
    class Kind(models.TextChoices):
        BEFORE = "before", _("Before")
        AFTER = "after", _("After")
        CHECK = "check", _("On-site check")

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="photos"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    image = models.ImageField(_("photo"), upload_to="photos/%Y/%m/%d/")
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    # Where the camera said it was (read from EXIF before the metadata was stripped).
    exif_point = models.PointField(_("camera position"), srid=4326, null=True, blank=True)
    taken_at = models.DateTimeField(_("taken at"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("photo")
        verbose_name_plural = _("photos")

    def __str__(self) -> str:
        return f"{self.case} {self.get_kind_display()}"


class CaseReporter(models.Model):
    """Everyone who reported this problem: the first reporter, people who joined it, and
    the reporters of cases merged into it. Each is informed when it closes."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="reporters"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    citizen_name = models.CharField(_("citizen's name"), max_length=100, blank=True)
    citizen_phone = models.CharField(_("citizen's phone"), max_length=30, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    original_case = models.ForeignKey(
        Case,
        verbose_name=_("original case"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)
    # The report form's own key, made when the form was shown: a second copy of the same
    # report (a double tap, a phone sending again after losing the answer) finds the case
    # the first one made instead of making another.
    submission = models.UUIDField(_("submission"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["joined_at", "id"]
        verbose_name = _("reporter")
        verbose_name_plural = _("reporters")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "submission"],
                condition=models.Q(submission__isnull=False),
                name="reporter_submission_unique",
            )
        ]


class CaseNumberCounter(models.Model):
    """The last daily sequence issued per category and day, e.g. ("E0102", 2026-11-23)."""

    prefix = models.CharField(max_length=12)
    day = models.DateField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prefix", "day"], name="casenumber_once_per_day")
        ]


class WorkingCalendar(models.Model):
    """Working periods per weekday, plus the national holiday and make-up days (and this
    calendar's own closures). A department may have its own; the first is the default."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=50, default="Asia/Shanghai")
    # {"0": [["08:30", "12:00"], ["13:30", "17:30"]], ..., "6": []}: Monday is 0.
    periods = models.JSONField(_("working periods"), default=dict)
    follows_national = models.BooleanField(_("follows national holidays"), default=True)
    is_default = models.BooleanField(_("default calendar"), default=False)

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name = _("working calendar")
        verbose_name_plural = _("working calendars")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="calendar_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CalendarDay(models.Model):
    """A date that is not like its weekday: a holiday, a make-up working day (调休), or a
    one-off closure. Rows without a calendar are national and apply to every calendar that
    follows national holidays."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Public holiday")
        WORKDAY = "workday", _("Make-up working day")
        CLOSURE = "closure", _("Closure")

    calendar = models.ForeignKey(
        WorkingCalendar,
        verbose_name=_("calendar"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="days",
    )
    day = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["day"]
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        constraints = [
            models.UniqueConstraint(fields=["calendar", "day"], name="calendarday_once"),
            models.UniqueConstraint(
                fields=["day"], condition=Q(calendar__isnull=True), name="calendarday_national_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.get_kind_display()} {self.name}"


class DepartmentPolicy(models.Model):
    """How a department works: its calendar and how it shares cases among its officers."""

    class Chooser(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round robin")
        LEAST_OPEN = "least_open", _("Fewest open cases")

    department = models.OneToOneField(
        "org.Department",
        verbose_name=_("department"),
        on_delete=models.CASCADE,
        related_name="policy",
    )
    calendar = models.ForeignKey(
        WorkingCalendar,
        verbose_name=_("calendar"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    chooser = models.CharField(
        _("assignment"), max_length=15, choices=Chooser.choices, default=Chooser.ROUND_ROBIN
    )
    # The round-robin pointer: the officer who got the last case.
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("department policy")
        verbose_name_plural = _("department policies")

    def __str__(self) -> str:
        return str(self.department)


class RoutingRule(models.Model):
    """Category × place (× urgency) → the department that owns the problem (权属).

    Rules are tried in priority order (lowest first); the first that matches decides.
    A case that no rule matches waits in the dispatchers' queue.
    """

    name = models.CharField(_("name"), max_length=200)
    priority = models.PositiveIntegerField(
        _("priority"), default=100, help_text=_("Lower runs first.")
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Matches this category and everything below it; empty: any."),
    )
    area = models.ForeignKey(
        "grids.Area",
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("A district, street or community."),
    )
    grid_code = models.CharField(_("unit grid code"), max_length=15, blank=True)
    shape = models.MultiPolygonField(
        _("drawn area"),
        srid=4326,
        null=True,
        blank=True,
        help_text=_("A park, a main road, a market…"),
    )
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, blank=True)
    department = models.ForeignKey(
        "org.Department", verbose_name=_("department"), on_delete=models.PROTECT, related_name="+"
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["priority", "id"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        constraints = [
            # One kind of place per rule, so that "why this department" reads plainly.
            models.CheckConstraint(
                condition=(
                    Q(area__isnull=True, grid_code="", shape__isnull=True)
                    | Q(area__isnull=False, grid_code="", shape__isnull=True)
                    | (Q(area__isnull=True, shape__isnull=True) & ~Q(grid_code=""))
                    | Q(area__isnull=True, grid_code="", shape__isnull=False)
                ),
                name="routingrule_one_place",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RoutingVersion(models.Model):
    """One row: a token that changes with every write to what routing reads besides the
    case (the rules, categories, departments and areas, the departments' policies and
    calendars, officers, their roles, memberships and leave). Database triggers write it
    in the writing transaction, whatever wrote, so that a worker process may keep those
    rows in memory for as long as the token stays the one it read them under
    (``routing.held_for_routing``). Moving the round-robin pointer is not a change."""

    token = models.CharField(max_length=32, default="")

    def __str__(self) -> str:
        return self.token
