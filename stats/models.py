"""Figures pre-aggregated from the case history (CaseEvent), so that a dashboard reads a few
hundred rows instead of scanning every case.

``CaseFact`` is one row per case, computed from the case and its events alone; the daily
tables are sums of what each ``CaseFact`` contributes. The incremental catch-up and the
nightly rebuild both go through the same per-case function (``stats.rollup``), so they
cannot disagree on a definition. Dimensions are plain integers (0: none), without foreign
keys: facts are derived data, rebuilt in bulk.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

# The place hierarchy, coarsest first; rows at a level carry the ids down to it, zeros below.
DISTRICT, STREET, COMMUNITY, GRID = 0, 1, 2, 3
LEVEL_FIELDS = ("district", "street", "community", "grid")


class RollupState(models.Model):
    """One row: how far the roll-ups have read the event history."""

    # The highest CaseEvent id read; later ids are new.
    high_water = models.BigIntegerField(default=0)
    # Raised whenever figures change; the dashboard polls it.
    version = models.BigIntegerField(default=0)
    caught_up_at = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    rebuild_seconds = models.FloatField(null=True, blank=True)
    rebuild_cases = models.IntegerField(null=True, blank=True)
    # Cases whose fact the rebuild found different from the incremental one: should be 0.
    rebuild_differences = models.IntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("roll-up state")
        verbose_name_plural = _("roll-up states")

    def __str__(self) -> str:
        return f"events to #{self.high_water}, version {self.version}"


class CaseFact(models.Model):
    """What one case contributes to the figures, as of its latest event."""

    case_id = models.BigIntegerField(primary_key=True)
    district = models.IntegerField(default=0)
    street = models.IntegerField(default=0)
    community = models.IntegerField(default=0)
    grid = models.IntegerField(default=0)
    category = models.IntegerField(default=0)
    department = models.IntegerField(default=0)
    source = models.CharField(max_length=10)
    stage = models.CharField(max_length=15)
    reported_at = models.DateTimeField()
    filed_at = models.DateTimeField(null=True)
    # Closed after the on-site check; ended: any final stage (closed, void, merged, ...).
    closed_at = models.DateTimeField(null=True)
    ended_at = models.DateTimeField(null=True)
    deadline = models.DateTimeField(null=True)
    on_time = models.BooleanField(null=True)
    # Filing to closing, time on hold left out: wall clock and the department's working time.
    wall_seconds = models.BigIntegerField(null=True)
    work_seconds = models.BigIntegerField(null=True)
    # {"2026-11-02": {"reported": 1, "filed": 1}, ...}: exactly what was added to the daily
    # rows, so that it can be taken out again when the case changes.
    counts = models.JSONField(default=dict)
    events = models.IntegerField(default=0)

    class Meta:
        indexes = [
            # Backlog and overdue read only cases still open, from this index alone (the
            # facts of a busy day's open cases are spread over thousands of pages).
            models.Index(
                fields=["district", "department", "filed_at"],
                name="casefact_open",
                condition=models.Q(ended_at__isnull=True, filed_at__isnull=False),
                include=["case_id", "street", "community", "grid", "deadline", "stage"],
            ),
            models.Index(fields=["grid", "reported_at"], name="casefact_grid"),
            models.Index(fields=["reported_at"], name="casefact_reported"),
            models.Index(fields=["filed_at"], name="casefact_filed"),
            models.Index(fields=["closed_at"], name="casefact_closed"),
            models.Index(fields=["ended_at"], name="casefact_ended"),
        ]

    def __str__(self) -> str:
        return f"case {self.case_id}"


class DailyFact(models.Model):
    """Counts per day, place (at one level of the hierarchy) and department."""

    day = models.DateField()
    level = models.PositiveSmallIntegerField()
    district = models.IntegerField(default=0)
    street = models.IntegerField(default=0)
    community = models.IntegerField(default=0)
    grid = models.IntegerField(default=0)
    department = models.IntegerField(default=0)

    reported = models.IntegerField(default=0)
    filed = models.IntegerField(default=0)
    # Filed cases that came from the hotline or the public (监督举报).
    public_filed = models.IntegerField(default=0)
    # Of the cases filed this day: due to close (not voided or merged), closed so far, and
    # closed by their deadline (the cohort behind the closure rates).
    due = models.IntegerField(default=0)
    due_closed = models.IntegerField(default=0)
    due_on_time = models.IntegerField(default=0)
    # Closed this day, and of those, by their deadline; handling-time sums of those.
    closed = models.IntegerField(default=0)
    closed_on_time = models.IntegerField(default=0)
    wall_seconds = models.BigIntegerField(default=0)
    work_seconds = models.BigIntegerField(default=0)
    disposed = models.IntegerField(default=0)
    reworks = models.IntegerField(default=0)
    dispatched = models.IntegerField(default=0)
    returns = models.IntegerField(default=0)
    voided = models.IntegerField(default=0)
    # Handling times of the cases closed this day: {"wall": {bucket: n}, "work": {...}}.
    hist = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "level", "district", "street", "community", "grid", "department"],
                name="dailyfact_key",
            )
        ]
        # One index per level, holding that level's rows alone: with the level a column
        # of one shared index, the catch-up's exact-key lookups took the grid index for
        # upper-level keys (grid 0) and filtered a hundred rows per key.
        indexes = [
            *(
                models.Index(
                    fields=[field, "day"],
                    name=f"dailyfact_{field}",
                    condition=models.Q(level=level),
                )
                for level, field in enumerate(LEVEL_FIELDS)
            ),
            models.Index(fields=["level", "day"], name="dailyfact_day"),
            # An officer's hot grids: their departments' grid rows of a period, from the
            # index alone (a department's rows lie among every other's: 9,000 pages for a
            # month at ten million cases).
            models.Index(
                fields=["department", "day"],
                name="dailyfact_grid_department",
                condition=models.Q(level=GRID),
                include=["district", "street", "community", "grid", "reported"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} level {self.level} department {self.department}"


class CategoryDay(models.Model):
    """Reports per day, place, department and category: the category hotspots."""

    day = models.DateField()
    level = models.PositiveSmallIntegerField()
    district = models.IntegerField(default=0)
    street = models.IntegerField(default=0)
    community = models.IntegerField(default=0)
    grid = models.IntegerField(default=0)
    department = models.IntegerField(default=0)
    category = models.IntegerField()
    reported = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day", "level", "district", "street", "community", "grid", "department",
                    "category",
                ],
                name="categoryday_key",
            )
        ]  # fmt: skip
        indexes = [
            models.Index(
                fields=[field, "day"],
                name=f"categoryday_{field}",
                condition=models.Q(level=level),
            )
            for level, field in enumerate(LEVEL_FIELDS)
        ]

    def __str__(self) -> str:
        return f"{self.day} level {self.level} category {self.category}"


class GridDay(models.Model):
    """Reports per day and unit grid, every department together: the hotspot grids of a
    supervisor's page read a month of these (grids × days rows) rather than the grid rows
    of each department (five times as many at a district's busiest)."""

    day = models.DateField()
    district = models.IntegerField(default=0)
    street = models.IntegerField(default=0)
    community = models.IntegerField(default=0)
    grid = models.IntegerField(default=0)
    reported = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "district", "street", "community", "grid"], name="gridday_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} grid {self.grid}"


class HandlingDay(models.Model):
    """The handling-time histogram of the cases closed per day and place, every department
    together: a supervisor's average and P90 handling times read a month of these (one row
    a day for a district) rather than the row of each department."""

    day = models.DateField()
    level = models.PositiveSmallIntegerField()
    district = models.IntegerField(default=0)
    street = models.IntegerField(default=0)
    community = models.IntegerField(default=0)
    grid = models.IntegerField(default=0)
    # As DailyFact.hist: {"wall": {bucket: n}, "work": {...}}.
    hist = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "level", "district", "street", "community", "grid"],
                name="handlingday_key",
            )
        ]
        indexes = [
            models.Index(
                fields=[field, "day"],
                name=f"handlingday_{field}",
                condition=models.Q(level=level),
            )
            for level, field in enumerate(LEVEL_FIELDS)
        ]

    def __str__(self) -> str:
        return f"{self.day} level {self.level}"
