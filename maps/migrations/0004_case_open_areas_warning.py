"""The open cases' covering index holds the warning time too, on PostgreSQL.

A case's traffic light is read from its deadline and its warning time (cases.models
light_expression); migration 0003's index held the deadline but not the warning time, so
every tile that shows lights (all of them) read a table page per open case: at a million
cases, the counts of a zoom-10 tile took 140-210 ms instead of 9-16 ms. The index is built
anew beside the old one without blocking the cases' writes, then takes its name.
"""

import importlib

from django.db import migrations

before = importlib.import_module("maps.migrations.0003_case_open_areas_index")
OPEN_STAGES = before.OPEN_STAGES
INDEX = before.INDEX
BUILDING = f"{INDEX}_new"


def build(included: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        stages = ", ".join(f"'{stage}'" for stage in OPEN_STAGES)
        # A build stopped halfway leaves an invalid index under the new name.
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {BUILDING}")
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY {BUILDING} ON cases_case ({before.COLUMNS})"
            f" INCLUDE ({included}) WHERE stage IN ({stages})"
        )
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        schema_editor.execute(f"ALTER INDEX {BUILDING} RENAME TO {INDEX}")

    return run


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [("maps", "0003_case_open_areas_index")]

    operations = [
        migrations.RunPython(build(f"{before.INCLUDED}, warn_at"), build(before.INCLUDED))
    ]
