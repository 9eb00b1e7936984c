"""keys.CredentialsVersion and the triggers that give it a new token whenever what a
credential allows may change, whatever wrote it."""

from django.db import migrations, models

from governance.db import version_triggers

# Table -> the columns whose updates count (none: every update).
WATCHED = {
    # Not last_used_at, written as keys and tokens are used.
    "keys_apikey": (
        "name",
        "owner_id",
        "user_id",
        "prefix",
        "secret_hash",
        "scopes",
        "all_areas",
        "rate_limit",
        "is_active",
        "expires_at",
    ),
    "keys_apikey_areas": (),
    "keys_personaltoken": ("user_id", "name", "prefix", "secret_hash", "is_active", "expires_at"),
    # Not last_login, written at every sign-in.
    "org_user": (
        "username",
        "first_name",
        "last_name",
        "full_name",
        "email",
        "phone",
        "is_active",
        "is_staff",
        "is_superuser",
    ),
    "org_rolegrant": (),
    "org_membership": (),
}


def create(apps, schema_editor):
    version_triggers(schema_editor.connection, "keys_credentialsversion", WATCHED)


def drop(apps, schema_editor):
    version_triggers(schema_editor.connection, "keys_credentialsversion", WATCHED, drop=True)


class Migration(migrations.Migration):
    dependencies = [
        ("keys", "0001_api_keys_tokens_log"),
        ("org", "0003_system_role"),
    ]

    operations = [
        migrations.CreateModel(
            name="CredentialsVersion",
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
