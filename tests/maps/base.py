"""A small hand-made city for the map tests: six cases whose scope, filters, lights and
counts are worked out by hand below."""

import datetime

from django.contrib.gis.geos import Point
from django.utils import timezone

from cases import calendar_seed, seed
from cases.models import (
    CalendarDay,
    Case,
    Category,
    FilingCondition,
    Source,
    Stage,
    WorkingCalendar,
)
from grids.models import UnitGrid, locate
from org.models import Department
from tests.grids.map_data import MapData


def centre_of(grid) -> Point:
    centre = grid.boundary.centroid
    return Point(centre.x, centre.y, srid=4326)


def make_case(**fields) -> Case:
    """A case row as the workflow leaves it, placed in the grid and areas of its point."""
    where = locate(fields["point"])
    values = {
        "source": Source.PATROL,
        "category": Category.objects.get(full_code="E0102"),
        "description": "人行道上有一堆生活垃圾",
        "stage": Stage.DISPATCHED,
        "grid": where.grid,
        "community": where.community,
        "street": where.street,
        "district": where.district,
    }
    values.update(fields)
    return Case.objects.create(**values)


class MapWorldMixin(MapData):
    """On top of the personas and MapData's three communities (Wang: the first two east
    grids, deputy of the third; Liu: the third east grid and the west grids; the round
    community has no worker):

    | case | where        | stage       | department  | source  | category | light  |
    |------|--------------|-------------|-------------|---------|----------|--------|
    | a    | east grid 0  | dispatched  | sanitation  | patrol  | E0102    | green  |
    | b    | east grid 1  | in_progress | sanitation  | hotline | E0102    | yellow |
    | c    | west grid 0  | dispatched  | landscaping | public  | C0101    | red    |
    | d    | west grid 1  | closed      | sanitation  | patrol  | E0102    | none   |
    | e    | round        | reported    | none        | hotline | E0102    | none   |
    | f    | east grid 2  | checking    | landscaping | patrol  | E0104    | red    |

    d was reported 40 days ago, the others today.
    """

    @classmethod
    def make_map_world(cls):
        cls.make_map_data()
        seed.load(Category, FilingCondition)
        calendar_seed.load(WorkingCalendar, CalendarDay)
        cls.landscaping = Department.objects.create(
            code="landscaping",
            name="园林绿化局",
            kind=Department.Kind.FUNCTIONAL,
            parent=cls.centre,
        )
        now = timezone.now()
        hour = datetime.timedelta(hours=1)
        clock = {
            "green": {"filed_at": now - hour, "deadline": now + 9 * hour},
            "yellow": {"filed_at": now - 9 * hour, "deadline": now + hour},
            "red": {"filed_at": now - 10 * hour, "deadline": now - hour},
        }
        for moments in clock.values():
            # The whole-case clock warns at 80 % of the time allowed.
            allowed = moments["deadline"] - moments["filed_at"]
            moments["warn_at"] = moments["filed_at"] + allowed * 0.8
        round_grids = list(UnitGrid.objects.filter(community=cls.round).order_by("code"))
        cls.a = make_case(
            point=centre_of(cls.east_grids[0]), department=cls.sanitation, **clock["green"]
        )
        cls.b = make_case(
            point=centre_of(cls.east_grids[1]),
            stage=Stage.IN_PROGRESS,
            department=cls.sanitation,
            source=Source.HOTLINE,
            **clock["yellow"],
        )
        cls.c = make_case(
            point=centre_of(cls.west_grids[0]),
            department=cls.landscaping,
            source=Source.PUBLIC,
            category=Category.objects.get(full_code="C0101"),
            **clock["red"],
        )
        cls.d = make_case(
            point=centre_of(cls.west_grids[1]),
            stage=Stage.CLOSED,
            department=cls.sanitation,
            reported_at=now - 40 * 24 * hour,
            filed_at=now - 40 * 24 * hour,
            deadline=now - 39 * 24 * hour,
            closed_at=now - 39 * 24 * hour - hour,
        )
        cls.e = make_case(
            point=centre_of(round_grids[len(round_grids) // 2]),
            stage=Stage.REPORTED,
            source=Source.HOTLINE,
        )
        cls.f = make_case(
            point=centre_of(cls.east_grids[2]),
            stage=Stage.CHECKING,
            department=cls.landscaping,
            category=Category.objects.get(full_code="E0104"),
            **clock["red"],
        )
        cls.everyone = {cls.a.pk, cls.b.pk, cls.c.pk, cls.d.pk, cls.e.pk, cls.f.pk}

    @classmethod
    def ids(cls, *names: str) -> set[int]:
        return {getattr(cls, name).pk for name in names}
