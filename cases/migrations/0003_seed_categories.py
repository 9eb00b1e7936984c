from django.db import migrations


def seed(apps, schema_editor):
    from cases import seed as standard

    # Historical models have no custom save(): full_code is given explicitly by the seed.
    standard.load(apps.get_model("cases", "Category"), apps.get_model("cases", "FilingCondition"))


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_caseevent_immutable")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
