"""cases.RoutingVersion and the triggers that give it a new token whenever what routing
reads besides the case changes, whatever wrote it."""

from django.db import migrations, models

from governance.db import version_triggers

# Table -> the columns whose updates count (none: every update).
WATCHED = {
    "cases_routingrule": (),
    "cases_category": (),
    "org_department": (),
    "grids_area": (),
    # Not the round-robin pointer, which every routing moves.
    "cases_departmentpolicy": ("department_id", "calendar_id", "chooser"),
    "cases_workingcalendar": (),
    "cases_calendarday": (),
    # Not last_login, written at every sign-in.
    "org_user": ("username", "is_active"),
    "org_membership": (),
    "org_rolegrant": (),
    "org_leave": (),
}


def create(apps, schema_editor):
    version_triggers(schema_editor.connection, "cases_routingversion", WATCHED)


def drop(apps, schema_editor):
    version_triggers(schema_editor.connection, "cases_routingversion", WATCHED, drop=True)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0008_lean_case_and_event_indexes"),
        ("grids", "0002_import_column_mapping"),
        ("org", "0003_system_role"),
    ]

    operations = [
        migrations.CreateModel(
            name="RoutingVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("token", models.CharField(default="", max_length=32)),
            ],
        ),
        migrations.RunPython(create, drop),
    ]
