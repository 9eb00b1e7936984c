"""Space: administrative areas, the unit grids inside them, and who is responsible where."""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Area(models.Model):
    """A district, street or community, with its GB/T 2260-based code."""

    class Level(models.TextChoices):
        DISTRICT = "district", _("District")
        STREET = "street", _("Street")
        COMMUNITY = "community", _("Community")

    CODE_LENGTH = {Level.DISTRICT: 6, Level.STREET: 9, Level.COMMUNITY: 12}
    PARENT_LEVEL = {Level.STREET: Level.DISTRICT, Level.COMMUNITY: Level.STREET}

    code = models.CharField(_("code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    boundary = models.MultiPolygonField(_("boundary"), srid=4326)

    class Meta:
        ordering = ["code"]
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        constraints = [
            models.CheckConstraint(
                condition=Q(level__in=["district", "street", "community"]), name="area_level_valid"
            ),
            models.CheckConstraint(
                condition=Q(level="district") | Q(parent__isnull=False),
                name="area_parent_unless_district",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class GridQuerySet(models.QuerySet):
    def valid_on(self, day: datetime.date) -> "GridQuerySet":
        return self.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day), valid_from__lte=day)

    def current(self) -> "GridQuerySet":
        return self.valid_on(timezone.localdate())

    def covered_by(self, user) -> "GridQuerySet":
        """Grids the person is responsible for (or deputy of) today."""
        today = timezone.localdate()
        return self.filter(
            Q(assignments__end__isnull=True) | Q(assignments__end__gt=today),
            assignments__worker=user,
            assignments__start__lte=today,
        ).distinct()


class UnitGrid(models.Model):
    """The unit of responsibility (单元网格): about a hectare, with a named worker.

    A redrawn grid is a new row with the same code; the old row gets ``valid_to`` and
    keeps pointing at the cases filed while it was valid.
    """

    class LandUse(models.TextChoices):
        RESIDENTIAL = "residential", _("Residential")
        COMMERCIAL = "commercial", _("Commercial")
        MIXED = "mixed", _("Mixed")
        PUBLIC = "public", _("Public services")
        INDUSTRIAL = "industrial", _("Industrial")
        GREEN = "green", _("Parks and green space")
        ROAD = "road", _("Roads and squares")
        WATER = "water", _("Water")
        OTHER = "other", _("Other")

    class ManagementLevel(models.IntegerChoices):
        KEY = 1, _("Key (class 1)")
        STANDARD = 2, _("Standard (class 2)")
        GENERAL = 3, _("General (class 3)")

    code = models.CharField(_("grid code"), max_length=15, db_index=True)
    community = models.ForeignKey(
        Area,
        verbose_name=_("community"),
        on_delete=models.PROTECT,
        related_name="grids",
        limit_choices_to={"level": Area.Level.COMMUNITY},
    )
    boundary = models.MultiPolygonField(_("boundary"), srid=4326)
    area_m2 = models.FloatField(_("area (m²)"))
    land_use = models.CharField(
        _("land use"), max_length=20, choices=LandUse.choices, default=LandUse.MIXED
    )
    management_level = models.PositiveSmallIntegerField(
        _("management level"), choices=ManagementLevel.choices, default=ManagementLevel.STANDARD
    )
    valid_from = models.DateField(_("valid from"), default=timezone.localdate)
    valid_to = models.DateField(_("valid until"), null=True, blank=True)

    objects = GridQuerySet.as_manager()

    class Meta:
        ordering = ["code", "-valid_from"]
        verbose_name = _("unit grid")
        verbose_name_plural = _("unit grids")
        constraints = [
            # One current grid per code; history rows share it.
            models.UniqueConstraint(
                fields=["code"], condition=Q(valid_to__isnull=True), name="unitgrid_code_current"
            ),
            models.UniqueConstraint(fields=["code", "valid_from"], name="unitgrid_code_version"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="unitgrid_validity_ordered",
            ),
            models.CheckConstraint(condition=Q(area_m2__gt=0), name="unitgrid_area_positive"),
        ]

    def __str__(self) -> str:
        return self.code

    def responsible(self, day: datetime.date | None = None) -> "GridAssignment | None":
        return self.assignment_on(GridAssignment.Duty.RESPONSIBLE, day)

    def deputy(self, day: datetime.date | None = None) -> "GridAssignment | None":
        return self.assignment_on(GridAssignment.Duty.DEPUTY, day)

    def assignment_on(self, duty: str, day: datetime.date | None) -> "GridAssignment | None":
        return self.assignments.active_on(day or timezone.localdate()).filter(duty=duty).first()


class AssignmentQuerySet(models.QuerySet):
    def active_on(self, day: datetime.date) -> "AssignmentQuerySet":
        return self.filter(Q(end__isnull=True) | Q(end__gt=day), start__lte=day)


class GridAssignment(models.Model):
    """A grid worker's responsibility for one grid over a period; history is kept."""

    class Duty(models.TextChoices):
        RESPONSIBLE = "responsible", _("Responsible")
        DEPUTY = "deputy", _("Deputy")

    grid = models.ForeignKey(
        UnitGrid, verbose_name=_("unit grid"), on_delete=models.CASCADE, related_name="assignments"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("grid worker"),
        on_delete=models.PROTECT,
        related_name="grid_assignments",
    )
    duty = models.CharField(_("duty"), max_length=12, choices=Duty.choices)
    start = models.DateField(_("start"), default=timezone.localdate)
    end = models.DateField(_("end"), null=True, blank=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["grid", "duty", "-start"]
        verbose_name = _("grid assignment")
        verbose_name_plural = _("grid assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["grid", "duty"],
                condition=Q(end__isnull=True),
                name="gridassignment_one_open_per_duty",
            ),
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(end__gt=models.F("start")),
                name="gridassignment_period_ordered",
            ),
            models.CheckConstraint(
                condition=Q(duty__in=["responsible", "deputy"]), name="gridassignment_duty_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grid} · {self.worker} ({self.get_duty_display()})"


@dataclass(frozen=True)
class Location:
    """Where a point falls: its unit grid and the areas above it, or outside coverage."""

    point: Point
    grid: UnitGrid | None
    community: Area | None
    street: Area | None
    district: Area | None

    @property
    def covered(self) -> bool:
        return self.grid is not None


SPATIALITE_GRID_INDEX = "idx_grids_unitgrid_boundary"


def locate(point: Point, at: datetime.datetime | None = None) -> Location:
    """The unit grid valid at ``at`` (default now) that contains ``point`` (WGS84).

    A point on an edge shared by two grids goes to the one with the lower code, so the
    answer never depends on the query plan. Outside every grid: ``covered`` is False.
    """
    if point.srid is None:
        point = Point(point.x, point.y, srid=4326)
    day = timezone.localdate(at) if at else timezone.localdate()
    grids = UnitGrid.objects.valid_on(day).filter(boundary__intersects=point)
    if connection.vendor == "sqlite":
        # SpatiaLite does not consult its R*Tree index from a plain predicate (PostGIS
        # uses the GiST index by itself); ask the R*Tree for the candidates first.
        grids = grids.filter(
            id__in=RawSQL(
                f"SELECT pkid FROM {SPATIALITE_GRID_INDEX}"
                " WHERE xmin <= %s AND xmax >= %s AND ymin <= %s AND ymax >= %s",
                (point.x, point.x, point.y, point.y),
            )
        )
    grid = (
        grids.select_related("community__parent__parent")
        .only(
            "id",
            "code",
            "community__code",
            "community__name",
            "community__level",
            "community__parent__code",
            "community__parent__name",
            "community__parent__level",
            "community__parent__parent__code",
            "community__parent__parent__name",
            "community__parent__parent__level",
        )
        .order_by("code")
        .first()
    )
    if grid is None:
        return Location(point, None, None, None, None)
    community = grid.community
    street = community.parent
    return Location(point, grid, community, street, street.parent if street else None)


class ImportJob(models.Model):
    """An upload of areas or unit grids, validated and written by a background task.

    The row is the job: the upload page polls its status and progress, and the report
    lists every offending feature. A failed job writes nothing.
    """

    class Kind(models.TextChoices):
        AREAS = "areas", _("Areas")
        GRIDS = "grids", _("Unit grids")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Imported")
        FAILED = "failed", _("Rejected")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    upload = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    # Which attribute holds the code, name, parent code, ... : {"code": "GRID_ID", ...}
    mapping = models.JSONField(_("column mapping"), default=dict)
    repair = models.BooleanField(_("repair invalid geometries"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    message = models.TextField(_("message"), blank=True)
    # [{"feature": 3, "code": "...", "problem": "..."}]
    report = models.JSONField(_("report"), default=list)
    created = models.PositiveIntegerField(_("created"), default=0)
    replaced = models.PositiveIntegerField(_("replaced"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"
