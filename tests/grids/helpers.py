"""Small builders for areas and grids in tests."""

from django.contrib.gis.geos import MultiPolygon, Polygon

from grids.models import Area


def bbox(xmin: float, ymin: float, xmax: float, ymax: float) -> MultiPolygon:
    return MultiPolygon(Polygon.from_bbox((xmin, ymin, xmax, ymax)), srid=4326)


def make_areas(community_shape: MultiPolygon | None = None, suffix: str = "001"):
    """District 110101 > street 110101001 > community 110101001<suffix>."""
    district, _ = Area.objects.get_or_create(
        code="110101",
        defaults={
            "name": "东城区",
            "level": Area.Level.DISTRICT,
            "boundary": bbox(116.38, 39.86, 116.45, 39.97),
        },
    )
    street, _ = Area.objects.get_or_create(
        code="110101001",
        defaults={
            "name": "东华门街道",
            "level": Area.Level.STREET,
            "parent": district,
            "boundary": bbox(116.39, 39.90, 116.42, 39.93),
        },
    )
    community = Area.objects.create(
        code=f"110101001{suffix}",
        name=f"社区{suffix}",
        level=Area.Level.COMMUNITY,
        parent=street,
        boundary=community_shape or bbox(116.400, 39.910, 116.404, 39.913),
    )
    return district, street, community
