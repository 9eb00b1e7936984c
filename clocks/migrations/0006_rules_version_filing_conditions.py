"""Filing conditions join the clocks' rules: their limits set a filed case's deadline, and
filing reads them from the rules kept in memory, so a write to them changes the token."""

from django.db import migrations

from governance.db import version_triggers

WATCHED = {"cases_filingcondition": ()}


def create(apps, schema_editor):
    version_triggers(schema_editor.connection, "clocks_rulesversion", WATCHED)


def drop(apps, schema_editor):
    version_triggers(schema_editor.connection, "clocks_rulesversion", WATCHED, drop=True)


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0005_rules_version_triggers"),
        ("cases", "0009_routing_version"),
    ]

    operations = [migrations.RunPython(create, drop)]
