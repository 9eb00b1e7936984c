"""The system account's name: it was "自动派遣" (automatic routing), and the deadline
ladder's escalations showed as done by automatic routing. A name an administrator has
changed stays as it is."""

from django.db import migrations

USERNAME = "gridgov-router"


def rename(old: str, new: str):
    def run(apps, schema_editor):
        User = apps.get_model("org", "User")
        User.objects.filter(username=USERNAME, full_name=old).update(full_name=new)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0009_routing_version"),
        ("org", "0004_system_role_label"),
    ]

    operations = [
        migrations.RunPython(rename("自动派遣", "GridGov"), rename("GridGov", "自动派遣")),
    ]
