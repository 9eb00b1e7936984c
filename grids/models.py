"""Space: administrative areas, the unit grids inside them, and who is responsible where."""

import datetime
import functools
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


def city_extent() -> tuple[float, float, float, float] | None:
    """The box (west, south, east, north, WGS84) around the city's districts, the areas
    without a parent; None before any is imported."""
    from django.contrib.gis.db.models import Extent

    return Area.objects.filter(parent=None).aggregate(extent=Extent("boundary"))["extent"]


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

# On PostGIS, locate() and locate_many() send hand-written SQL: building the same query
# through the ORM cost about 1.2 ms of Python per call, several times what the database
# spends on it (bench/bench_locate.py). They load what the ORM's select_related/only did:
# the grid's id, code and community, each area's id, code, name, level and parent (not the
# district's parent), in field order, as Model.from_db wants them.
_GRID_COLUMNS = ("id", "code", "community_id")
_AREA_COLUMNS = ("id", "code", "name", "level", "parent_id")
_DISTRICT_COLUMNS = ("id", "code", "name", "level")
_POINT = "ST_SetSRID(ST_MakePoint({x}, {y}), {srid})"
_VALID_ON = "{g}valid_from <= %s AND ({g}valid_to IS NULL OR {g}valid_to > %s)"


def _located_sql(grids_from: str) -> str:
    """The grid rows of ``grids_from`` (aliased g) joined to their three areas."""
    select = []
    for alias, model, columns in (
        ("g", UnitGrid, _GRID_COLUMNS),
        ("c", Area, _AREA_COLUMNS),
        ("s", Area, _AREA_COLUMNS),
        ("d", Area, _DISTRICT_COLUMNS),
    ):
        order = [f.attname for f in model._meta.concrete_fields]
        if sorted(columns, key=order.index) != list(columns):
            raise ValueError(f"{columns} are not in {model.__name__}'s field order")
        select.extend(f"{alias}.{column}" for column in columns)
    area = Area._meta.db_table
    return (
        f"SELECT {', '.join(select)} FROM {grids_from}"
        f" INNER JOIN {area} c ON c.id = g.community_id"
        f" LEFT OUTER JOIN {area} s ON s.id = c.parent_id"
        f" LEFT OUTER JOIN {area} d ON d.id = s.parent_id"
    )


@functools.cache
def _locate_sql(transform: bool) -> str:
    """One point (x, y, srid, day, day): its grid with the lowest code, and the areas.

    Written so that PostgreSQL keeps one plan for every point. The statement is prepared
    after a few runs (``DB_PREPARE_THRESHOLD``), but PostgreSQL planned it afresh for each
    point, since a plan for the point's own value looked cheaper than the generic one;
    planning the four-table join cost 0.6-0.9 ms of the server's CPU a call, several times
    its execution (0.1 ms), and was a fifth of what a new case cost PostgreSQL. With the
    point behind a sub-select, no plan can see its value, so the generic plan costs no more
    and is kept; with the grid behind LIMIT 1, that plan reaches the areas by key (not by
    hashing every area)."""
    point = _POINT.format(x="%s", y="%s", srid="%s")
    if transform:  # only when the point is not WGS84: it costs a few percent
        point = f"ST_Transform({point}, 4326)"
    return _located_sql(
        f"(SELECT id, code, community_id FROM {UnitGrid._meta.db_table}"
        f" WHERE ST_Intersects(boundary, (SELECT {point})) AND {_VALID_ON.format(g='')}"
        " ORDER BY code LIMIT 1) g"
    )


@functools.cache
def _locate_many_sql() -> str:
    """Arrays of x, y and srid, then day, day: one row per point, in order."""
    point = f"ST_Transform({_POINT.format(x='p.x', y='p.y', srid='p.srid')}, 4326)"
    grid = (
        f"(SELECT id, code, community_id FROM {UnitGrid._meta.db_table}"
        f" WHERE ST_Intersects(boundary, {point}) AND {_VALID_ON.format(g='')}"
        " ORDER BY code LIMIT 1) g"
    )
    return (
        "SELECT p.i, located.* FROM"
        " unnest(%s::float8[], %s::float8[], %s::int[]) WITH ORDINALITY AS p(x, y, srid, i)"
        f" LEFT JOIN LATERAL ({_located_sql(grid)}) AS located ON true ORDER BY p.i"
    )


def _located(point: Point, row: tuple | None) -> Location:
    """A Location from one row of ``_located_sql``, its relations cached as select_related
    caches them (following grid.community.parent.parent makes no query)."""
    if row is None or row[0] is None:
        return Location(point, None, None, None, None)
    db = connection.alias
    community_at = len(_GRID_COLUMNS)
    street_at = community_at + len(_AREA_COLUMNS)
    district_at = street_at + len(_AREA_COLUMNS)
    grid = UnitGrid.from_db(db, _GRID_COLUMNS, row[:community_at])
    community = Area.from_db(db, _AREA_COLUMNS, row[community_at:street_at])
    street = district = None
    if row[street_at] is not None:
        street = Area.from_db(db, _AREA_COLUMNS, row[street_at:district_at])
    if row[district_at] is not None:
        district = Area.from_db(db, _DISTRICT_COLUMNS, row[district_at:])
    UnitGrid.community.field.set_cached_value(grid, community)
    Area.parent.field.set_cached_value(community, street)
    if street is not None:
        Area.parent.field.set_cached_value(street, district)
    return Location(point, grid, community, street, district)


def locate(point: Point, at: datetime.datetime | None = None) -> Location:
    """The unit grid valid at ``at`` (default now) that contains ``point`` (WGS84).

    A point on an edge shared by two grids goes to the one with the lower code, so the
    answer never depends on the query plan. Outside every grid: ``covered`` is False.
    """
    if point.srid is None:
        point = Point(point.x, point.y, srid=4326)
    day = timezone.localdate(at) if at else timezone.localdate()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _locate_sql(point.srid != 4326), [point.x, point.y, point.srid, day, day]
            )
            return _located(point, cursor.fetchone())
    grids = UnitGrid.objects.valid_on(day).filter(boundary__intersects=point)
    if connection.vendor == "sqlite":
        # SpatiaLite does not consult its R*Tree index from a plain predicate (PostGIS
        # uses the GiST index by itself); ask the R*Tree for the candidates first. Its
        # boxes are in WGS84 degrees, whatever SRID the point came in.
        probe = point if point.srid == 4326 else point.transform(4326, clone=True)
        grids = grids.filter(
            id__in=RawSQL(
                f"SELECT pkid FROM {SPATIALITE_GRID_INDEX}"
                " WHERE xmin <= %s AND xmax >= %s AND ymin <= %s AND ymax >= %s",
                (probe.x, probe.x, probe.y, probe.y),
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


def locate_many(points: "list[Point]", at: datetime.datetime | None = None) -> list[Location]:
    """``locate()`` for many points: one Location per point, in the order given.

    On PostGIS one statement answers for all points (an index probe per point, with the
    same validity and lowest-code rules); elsewhere it calls ``locate()`` for each point.
    """
    points = [p if p.srid is not None else Point(p.x, p.y, srid=4326) for p in points]
    if connection.vendor != "postgresql" or not points:
        return [locate(point, at) for point in points]
    day = timezone.localdate(at) if at else timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute(
            _locate_many_sql(),
            [[p.x for p in points], [p.y for p in points], [p.srid for p in points], day, day],
        )
        rows = cursor.fetchall()
    return [_located(point, row[1:]) for point, row in zip(points, rows, strict=True)]


class ImportJob(models.Model):
    """An upload of areas or unit grids, validated and written by a background task.

    The row is the job: the upload page polls its status and progress, and the report
    lists every offending feature. A failed job writes nothing.
    """

    class Kind(models.TextChoices):
        AREAS = "areas", _("Areas")
        GRIDS = "grids", _("Unit grids")

    class Status(models.TextChoices):
        MAPPING = "mapping", _("Choosing columns")
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Imported")
        FAILED = "failed", _("Rejected")

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    upload = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    # What the file holds, read at upload so that columns can be chosen before the job runs:
    # [{"name": "grids", "columns": ["GRID_CODE", ...], "count": 9, "srs": "CGCS2000 / ..."}]
    layers = models.JSONField(_("layers"), default=list)
    # By position: a GeoJSON layer is named after the file, and the stored copy's name differs.
    layer = models.PositiveSmallIntegerField(_("layer"), default=0)
    assume_wgs84 = models.BooleanField(_("coordinates are WGS84 longitude/latitude"), default=False)
    # The report is written by the worker in the language of the person who uploaded.
    language = models.CharField(_("language"), max_length=10, blank=True)
    # Which attribute holds the code, name, parent code, ... : {"code": "GRID_ID", ...}
    mapping = models.JSONField(_("column mapping"), default=dict)
    repair = models.BooleanField(_("repair invalid geometries"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.MAPPING
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
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["areas", "grids"]), name="importjob_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["mapping", "pending", "running", "succeeded", "failed"]),
                name="importjob_status_valid",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="importjob_progress_max"),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    def submit(self, *, layer: int, mapping: dict, repair: bool, assume_wgs84: bool) -> bool:
        """Fix the columns and hand the job to the worker; False if it was handed over already
        (a second click, another tab). The caller enqueues ``run_import`` on commit."""
        handed = ImportJob.objects.filter(pk=self.pk, status=self.Status.MAPPING).update(
            status=self.Status.PENDING,
            layer=layer,
            mapping=mapping,
            repair=repair,
            assume_wgs84=assume_wgs84,
        )
        self.refresh_from_db()
        return bool(handed)

    @classmethod
    def claim(cls, pk: int) -> bool:
        """Take a waiting job for running, so that a redelivered task does not run it twice."""
        return bool(
            cls.objects.filter(pk=pk, status=cls.Status.PENDING).update(
                status=cls.Status.RUNNING, progress=0
            )
        )

    def record_progress(self, percent: int) -> None:
        percent = max(0, min(100, percent))
        if percent != self.progress:
            self.progress = percent
            ImportJob.objects.filter(pk=self.pk).update(progress=percent)

    def finish(
        self, *, report: list, created: int = 0, replaced: int = 0, message: str = ""
    ) -> None:
        """Record the outcome: imported when the report is empty and there is no message."""
        self.status = self.Status.FAILED if report or message else self.Status.SUCCEEDED
        self.progress = 100
        self.report = report
        self.created = created
        self.replaced = replaced
        self.message = message
        self.finished_at = timezone.now()
        self.save(
            update_fields=[
                "status",
                "progress",
                "report",
                "created",
                "replaced",
                "message",
                "finished_at",
            ]
        )
