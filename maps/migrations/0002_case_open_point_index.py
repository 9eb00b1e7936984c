"""A spatial index over the points of open cases only, on PostgreSQL.

The map shows open cases unless asked otherwise. Through the full spatial index a zoom-14
tile over the demo district finds some 55,000 cases of every stage and throws away all but
about a thousand; this index holds the open ones alone (a few percent of the table) and
answers the tile's box and stage condition by itself (bench/bench_map.py). Its condition
lists OPEN_STAGES in their own order, as maps.forms.MapFilterForm.stages() sends them.
SpatiaLite has no partial spatial index: there the map uses the full one.
"""

from django.db import migrations

INDEX = "maps_case_open_point"
# cases.models.OPEN_STAGES when this was written. Should that list change, the planner no
# longer uses this index for "open" (answers stay right) until a new migration follows it.
OPEN_STAGES = [
    "verifying",
    "reported",
    "filed",
    "dispatched",
    "in_progress",
    "on_hold",
    "checking",
    "self_handled",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    stages = ", ".join(f"'{stage}'" for stage in OPEN_STAGES)
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON cases_case USING gist (point)"
        f" WHERE stage IN ({stages})"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("maps", "0001_map_version"),
        ("cases", "0006_drop_fk_indexes_covered_by_composites"),
    ]

    operations = [migrations.RunPython(create, drop)]
