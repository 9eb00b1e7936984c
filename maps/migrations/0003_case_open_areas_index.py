"""Open cases per street and community from the index alone, on PostgreSQL.

Zoomed out, the map counts the open cases of each street or community in view; zoomed in
it draws the open cases of the communities that meet a tile. With this partial index,
holding only open cases and every column those queries read (the areas, the clock for the
light, the filters, the columns of Case.objects.visible_to's scope, and what a tile
carries: number, urgency, supervision, point), both are index-only scans of a few thousand
entries instead of a visit to a table page per case (bench/bench_map.py: 450 ms to 30 ms
for the counts of a zoom-10 tile at a million cases). The stage list is migration 0002's.
"""

import importlib

from django.db import migrations

OPEN_STAGES = importlib.import_module("maps.migrations.0002_case_open_point_index").OPEN_STAGES

INDEX = "maps_case_open_areas"
COLUMNS = "street_id, community_id"
INCLUDED = (
    "id, stage, filed_at, deadline, department_id, category_id, source, reported_at,"
    " grid_id, reporter_id, field_worker_id, number, urgency, supervision, point"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    stages = ", ".join(f"'{stage}'" for stage in OPEN_STAGES)
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON cases_case ({COLUMNS}) INCLUDE ({INCLUDED})"
        f" WHERE stage IN ({stages})"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("maps", "0002_case_open_point_index")]

    operations = [migrations.RunPython(create, drop)]
