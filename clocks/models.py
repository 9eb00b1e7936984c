"""Deadline clocks and the escalation ladder.

A ``Clock`` runs for one stage instance of one case (verification, filing, dispatch,
handling, on-site check), and one runs for the whole case from filing to closing. Clocks
are never counters: ``clocks.engine`` rebuilds them from the case's events on the
department's working calendar, so a hold, a transfer or a change of limit or calendar is
always accounted for exactly. A closed clock keeps the snapshot it had when it stopped.

The ladder (``EscalationStep``) is data. For each running clock and each step that applies
to it, a ``ClockStep`` row says when the step is due for the clock's current deadline
version; the beat sweep claims due rows and fires each exactly once.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from cases.models import LimitUnit, Supervision, Urgency


class ClockKind(models.TextChoices):
    CASE = "case", _("Whole case")
    VERIFY = "verify", _("Verification")
    FILE = "file", _("Filing")
    DISPATCH = "dispatch", _("Dispatch")
    HANDLE = "handle", _("Handling")
    CHECK = "check", pgettext_lazy("clock kind", "On-site check")


class StageLimit(models.Model):
    """How long a stage may take. The handling stage and the whole case take the filing
    condition's disposal limit; a row for them here is used only for a case without one."""

    stage = models.CharField(_("stage"), max_length=10, choices=ClockKind.choices)
    urgency = models.CharField(
        _("urgency"),
        max_length=10,
        choices=Urgency.choices,
        blank=True,
        help_text=_("Empty: any urgency. A row for the case's urgency wins."),
    )
    limit_value = models.DecimalField(_("limit"), max_digits=7, decimal_places=2)
    limit_unit = models.CharField(
        pgettext_lazy("time limit", "unit"), max_length=15, choices=LimitUnit.choices
    )

    class Meta:
        ordering = ["stage", "urgency"]
        verbose_name = _("stage limit")
        verbose_name_plural = _("stage limits")
        constraints = [
            models.UniqueConstraint(fields=["stage", "urgency"], name="stagelimit_once"),
            models.CheckConstraint(
                condition=Q(limit_value__gt=0), name="stagelimit_limit_positive"
            ),
            models.CheckConstraint(
                condition=Q(stage__in=ClockKind.values), name="stagelimit_stage_valid"
            ),
            models.CheckConstraint(
                condition=Q(limit_unit__in=LimitUnit.values), name="stagelimit_unit_valid"
            ),
        ]

    def __str__(self) -> str:
        urgency = f" ({self.get_urgency_display()})" if self.urgency else ""
        return (
            f"{self.get_stage_display()}{urgency}: {self.limit_value.normalize()}"
            f" {self.get_limit_unit_display()}"
        )


class Clock(models.Model):
    class State(models.TextChoices):
        RUNNING = "running", pgettext_lazy("clock state", "Running")
        PAUSED = "paused", _("Paused")
        STOPPED = "stopped", _("Stopped")

    # No index of its own: clock_once (case, kind, seq) leads with it, and every new
    # case writes three clocks.
    case = models.ForeignKey(
        "cases.Case",
        verbose_name=_("case"),
        on_delete=models.CASCADE,
        related_name="clocks",
        db_index=False,
    )
    kind = models.CharField(_("clock"), max_length=10, choices=ClockKind.choices)
    # The n-th instance of this stage in the case's life (a rework or a transfer starts
    # another); the whole-case clock is always 1.
    seq = models.PositiveSmallIntegerField(_("instance"), default=1)
    department = models.ForeignKey(
        "org.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    # The limit as it was last computed (a stopped clock keeps it).
    limit_value = models.DecimalField(_("limit"), max_digits=7, decimal_places=2)
    limit_unit = models.CharField(
        pgettext_lazy("time limit", "unit"), max_length=15, choices=LimitUnit.choices
    )
    # Time allowed and used, in the limit's own time (working time for working hours and
    # days, wall time otherwise); extensions included. ``used`` counts up to
    # ``running_since``; a running clock adds the time since then.
    allowed = models.DurationField(_("time allowed"))
    used = models.DurationField(_("time used"))
    running_since = models.DateTimeField(_("running since"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"))
    stopped_at = models.DateTimeField(_("stopped"), null=True, blank=True)
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warning"), null=True, blank=True)
    # Raised whenever the deadline moves: escalation steps are due once per version.
    deadline_version = models.PositiveIntegerField(_("deadline version"), default=1)
    computed_at = models.DateTimeField(_("computed"), auto_now=True)

    class Meta:
        ordering = ["started_at", "id"]
        verbose_name = _("clock")
        verbose_name_plural = _("clocks")
        constraints = [
            models.UniqueConstraint(fields=["case", "kind", "seq"], name="clock_once"),
            models.CheckConstraint(
                condition=Q(state__in=["running", "paused", "stopped"]), name="clock_state_valid"
            ),
        ]
        indexes = [
            # The recalculation after a calendar or limit change walks the open clocks.
            models.Index(fields=["case"], condition=~Q(state="stopped"), name="clock_open_by_case"),
        ]

    def __str__(self) -> str:
        return f"{self.case}: {self.get_kind_display()} #{self.seq}"

    @property
    def is_open(self) -> bool:
        return self.state != self.State.STOPPED


class EscalationStep(models.Model):
    """One rung of the ladder: when (a share of the limit, or working time past the
    deadline) and what (notify whom, raise the urgency, a supervision order)."""

    key = models.SlugField(_("key"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    # Orders the ladder; a case's escalation level is the highest level fired.
    level = models.PositiveSmallIntegerField(_("level"), unique=True)
    clock_kind = models.CharField(
        _("clock"),
        max_length=10,
        choices=ClockKind.choices,
        blank=True,
        help_text=_("Empty: every clock."),
    )
    percent = models.PositiveSmallIntegerField(
        _("per cent of the limit"),
        null=True,
        blank=True,
        help_text=_("80 warns, 100 is the breach."),
    )
    offset_hours = models.DecimalField(
        _("hours past the deadline"),
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("In the clock's own time (working hours for a working-time limit)."),
    )
    notify_assignee = models.BooleanField(_("notify the person handling it"), default=False)
    notify_head = models.BooleanField(_("notify the department head"), default=False)
    notify_street = models.BooleanField(_("notify the street office"), default=False)
    notify_centre = models.BooleanField(_("notify the district centre"), default=False)
    raise_urgency = models.BooleanField(_("raise the urgency"), default=False)
    supervision = models.PositiveSmallIntegerField(
        _("supervision order"), choices=Supervision.choices, default=Supervision.NONE
    )
    working_hours_only = models.BooleanField(
        _("notify in working hours only"),
        default=False,
        help_text=_("The step is recorded when due; its notifications wait for working time."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["level"]
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(percent__isnull=False, offset_hours__isnull=True)
                    | Q(percent__isnull=True, offset_hours__isnull=False)
                ),
                name="escalationstep_one_moment",
            ),
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | Q(percent__gt=0),
                name="escalationstep_percent_positive",
            ),
            models.CheckConstraint(
                condition=Q(supervision__in=Supervision.values),
                name="escalationstep_supervision_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name()

    def display_name(self) -> str:
        """The name in the reader's language: the English one on English pages, if set."""
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name


class ClockStep(models.Model):
    """A step of the ladder scheduled for one clock and one deadline version.

    Fired at most once: the sweep claims a due row and sets ``fired_at`` in the transaction
    that writes the case's "escalate" event, and the unique constraint refuses a second row
    for the same clock, step and deadline version. When the deadline moves, unfired rows are
    replaced by rows for the new version.
    """

    # No index of its own: clockstep_once_per_version (clock, step, deadline_version)
    # leads with it, and every new case writes about six steps.
    clock = models.ForeignKey(
        Clock,
        verbose_name=_("clock"),
        on_delete=models.CASCADE,
        related_name="steps",
        db_index=False,
    )
    step = models.ForeignKey(
        EscalationStep, verbose_name=_("step"), on_delete=models.CASCADE, related_name="+"
    )
    deadline_version = models.PositiveIntegerField(_("deadline version"))
    fire_at = models.DateTimeField(pgettext_lazy("escalation step", "due"))
    fired_at = models.DateTimeField(_("fired"), null=True, blank=True)
    # When its notifications may go out (the next working moment for a working-hours-only
    # step); they are delivered once, after the firing commits.
    notify_at = models.DateTimeField(_("notify from"), null=True, blank=True)
    notified_at = models.DateTimeField(_("notified"), null=True, blank=True)

    class Meta:
        ordering = ["fire_at", "id"]
        verbose_name = _("scheduled escalation")
        verbose_name_plural = _("scheduled escalations")
        constraints = [
            models.UniqueConstraint(
                fields=["clock", "step", "deadline_version"], name="clockstep_once_per_version"
            ),
        ]
        indexes = [
            # The sweep's only question: which unfired rows are due, earliest first.
            models.Index(
                fields=["fire_at"], condition=Q(fired_at__isnull=True), name="clockstep_due"
            ),
            models.Index(
                fields=["fired_at"],
                condition=Q(fired_at__isnull=False, notified_at__isnull=True),
                name="clockstep_undelivered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.clock}: {self.step} v{self.deadline_version}"


class Recalculation(models.Model):
    """One row: how many recalculations of the open clocks were asked for. Each change of a
    calendar or limit asks for one, numbered; the sweep of an older number gives way to the
    newer one, which reads the newer settings and covers every open case again."""

    requested = models.BigIntegerField(default=0)
    # The sweep of number ``requested``: the last case id it reached, when it last moved,
    # and when it ended. A sweep that stopped moving (its next task was lost) is resumed
    # from where it reached by the minute's beat.
    reached = models.BigIntegerField(default=0)
    moved_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("recalculation of open clocks")

    def __str__(self) -> str:
        return f"recalculation {self.requested}"


class RulesVersion(models.Model):
    """One row: a token that changes with every write to the tables the clocks are
    computed from (calendars, calendar days, departments' calendars, stage limits, the
    ladder, the filing conditions). Database triggers write it, in the writing
    transaction, whatever wrote (forms, the admin, bulk inserts, ``QuerySet.update``),
    so that a process may keep
    those rules in memory for as long as the token it reads is the one it read them
    under (``clocks.services.current_rules``). A fresh random token per change: a
    rolled-back change leaves the old one, never one that a later change reuses."""

    token = models.CharField(max_length=32, default="")

    def __str__(self) -> str:
        return self.token
