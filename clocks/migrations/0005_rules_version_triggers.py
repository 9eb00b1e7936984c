"""Triggers that give clocks.RulesVersion a new token whenever the rules the clocks are
computed from change, whatever wrote them."""

from django.db import migrations

# Table -> the writes that change the rules (a department's policy: only its calendar,
# not the round-robin pointer that every routing moves).
WATCHED = {
    "cases_workingcalendar": None,
    "cases_calendarday": None,
    "cases_departmentpolicy": "calendar_id",
    "clocks_stagelimit": None,
    "clocks_escalationstep": None,
}

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION clocks_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO clocks_rulesversion (id, token)
  VALUES (1, replace(gen_random_uuid()::text, '-', ''))
  ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token;
  RETURN NULL;
END $$
"""
SQLITE_UPSERT = (
    "INSERT INTO clocks_rulesversion (id, token) VALUES (1, lower(hex(randomblob(16))))"
    " ON CONFLICT(id) DO UPDATE SET token = excluded.token;"
)


def create(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRES_FUNCTION)
            for table, column in WATCHED.items():
                events = (
                    "INSERT OR DELETE OR TRUNCATE"
                    if column
                    else ("INSERT OR UPDATE OR DELETE OR TRUNCATE")
                )
                cursor.execute(
                    f"CREATE TRIGGER clocks_rules_changed AFTER {events} ON {table}"
                    " FOR EACH STATEMENT EXECUTE FUNCTION clocks_rules_changed()"
                )
                if column:
                    cursor.execute(
                        f"CREATE TRIGGER clocks_rules_changed_{column} AFTER UPDATE OF {column}"
                        f" ON {table} FOR EACH STATEMENT EXECUTE FUNCTION clocks_rules_changed()"
                    )
        else:
            for table, column in WATCHED.items():
                for event in ("INSERT", "DELETE", f"UPDATE OF {column}" if column else "UPDATE"):
                    name = f"clocks_rules_changed_{table}_{event.split()[0].lower()}"
                    cursor.execute(
                        f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {SQLITE_UPSERT} END"
                    )


def drop(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table, column in WATCHED.items():
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS clocks_rules_changed ON {table}")
                if column:
                    cursor.execute(
                        f"DROP TRIGGER IF EXISTS clocks_rules_changed_{column} ON {table}"
                    )
            else:
                for event in ("insert", "delete", "update"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS clocks_rules_changed_{table}_{event}")
        if connection.vendor == "postgresql":
            cursor.execute("DROP FUNCTION IF EXISTS clocks_rules_changed()")


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0004_rules_version"),
        ("cases", "0008_lean_case_and_event_indexes"),
    ]

    operations = [migrations.RunPython(create, drop)]
