from django.db import migrations


def seed(apps, schema_editor):
    from cases import calendar_seed

    calendar_seed.load(
        apps.get_model("cases", "WorkingCalendar"), apps.get_model("cases", "CalendarDay")
    )


class Migration(migrations.Migration):
    dependencies = [("cases", "0004_routing_calendars")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
