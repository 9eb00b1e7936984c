from django.db import migrations


def seed(apps, schema_editor):
    from clocks import seed

    seed.load(apps.get_model("clocks", "StageLimit"), apps.get_model("clocks", "EscalationStep"))


class Migration(migrations.Migration):
    dependencies = [("clocks", "0001_clocks_ladder")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
