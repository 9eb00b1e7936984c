"""Requests the map tests make, and tile arithmetic."""

import math

from django.urls import reverse

# Covers the three communities of MapData (and nothing far beyond).
CITY_BBOX = "116.385,39.905,116.430,39.930"


def tile_of(point, z: int) -> tuple[int, int]:
    n = 2**z
    x = (point.x + 180) / 360 * n
    lat = math.radians(point.y)
    y = (1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2 * n
    return int(x), int(y)


def position_in_tile(point, z: int, x: int, y: int, extent: int = 4096) -> tuple[float, float]:
    n = 2**z
    fx = (point.x + 180) / 360 * n
    lat = math.radians(point.y)
    fy = (1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2 * n
    return (fx - x) * extent, (fy - y) * extent


def features(client, zoom: int = 16, bbox: str = CITY_BBOX, headers=None, **filters):
    return client.get(
        reverse("maps:features"), {"bbox": bbox, "zoom": zoom, **filters}, **(headers or {})
    )


def feature_ids(client, **filters) -> set[int]:
    response = features(client, **filters)
    assert response.status_code == 200, response.content
    return {f["properties"]["id"] for f in response.json()["features"]}


def area_counts(client, zoom: int, **filters) -> dict[str, tuple[int, int, int]]:
    """{area code: (cases, red, yellow)} from the GeoJSON layer at an aggregating zoom."""
    response = features(client, zoom=zoom, **filters)
    assert response.status_code == 200, response.content
    return {
        f["properties"]["code"]: (
            f["properties"]["n"],
            f["properties"]["red"],
            f["properties"]["yellow"],
        )
        for f in response.json()["features"]
        if "level" in f["properties"]  # not the cases outside every community
    }
