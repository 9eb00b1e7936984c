"""The minimal intake: the view the API's rate goal was derived from, served beside the
real one by bench_api's gunicorn (``bench.settings``), never by GridGov itself.

A DRF create view that reads a point and three text fields of about 200 bytes from a JSON
body, finds the unit grid under the point with the ORM, and writes one row with the ORM
into an indexed table of its own: no authentication, no rate limit, no case number, no
clocks, no events, nothing after the commit. On the machine the goal was set for it
answered 349 requests/s under gunicorn with 4 sync workers, while the goal for the whole
case creation through the API is 300: 86 % of this floor.
"""

import json

from django.contrib.gis.db import models
from django.contrib.gis.geos import Point
from django.db import connection
from rest_framework import generics, permissions, serializers

from grids.models import UnitGrid

# The floor's share that the goal asks of case creation: 300 of 349 requests/s.
GOAL_MACHINE_RATE = 349


class Intake(models.Model):
    grid = models.ForeignKey(UnitGrid, null=True, on_delete=models.CASCADE)
    point = models.PointField(srid=4326)
    category = models.CharField(max_length=255)
    description = models.TextField()
    address = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        app_label = "bench"
        db_table = "bench_intake"
        managed = False


class IntakeSerializer(serializers.ModelSerializer):
    lon = serializers.FloatField(write_only=True, min_value=-180, max_value=180)
    lat = serializers.FloatField(write_only=True, min_value=-90, max_value=90)

    class Meta:
        model = Intake
        fields = ("id", "grid", "category", "description", "address", "lon", "lat", "created_at")
        read_only_fields = ("id", "grid", "created_at")

    def create(self, validated_data):
        point = Point(validated_data.pop("lon"), validated_data.pop("lat"), srid=4326)
        grid = UnitGrid.objects.filter(boundary__contains=point).first()
        return Intake.objects.create(grid=grid, point=point, **validated_data)


class IntakeView(generics.CreateAPIView):
    serializer_class = IntakeSerializer
    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)
    throttle_classes = ()


def create_table() -> None:
    """A new empty table for the run (with its indexes: the grid, the point, the time)."""
    drop_table()
    with connection.schema_editor() as editor:
        editor.create_model(Intake)


def drop_table() -> None:
    with connection.schema_editor() as editor:
        editor.execute("DROP TABLE IF EXISTS bench_intake")


def body(category: str) -> str:
    """A JSON body: three text fields of about 200 bytes, and a point as two %.7f."""
    fields = {
        "category": category.ljust(200, "-"),
        "description": "路边垃圾堆放，影响行人通行，请尽快清理。" * 3 + "。" * 7,  # 201 bytes
        "address": "东城区" * 22 + "号",  # 201 bytes
        "lon": "LON",
        "lat": "LAT",
    }
    text = json.dumps(fields, ensure_ascii=False)
    return text.replace('"LON"', "%.7f").replace('"LAT"', "%.7f")
