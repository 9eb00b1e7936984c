"""Default weights and grades (evaluation/defaults.py); an administrator changes them on the
admin site."""

from django.db import migrations

from evaluation import defaults


def seed(apps, schema_editor):
    defaults.load(apps.get_model("evaluation", "KpiWeight"), apps.get_model("evaluation", "Grade"))


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0001_export_jobs_weights")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
