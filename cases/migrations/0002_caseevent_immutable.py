from django.db import migrations

# Case events are the audit trail: on PostgreSQL the database itself refuses to change or
# delete one, whatever client connects. (TRUNCATE, used only by test teardown, is not a
# row operation and is not blocked.)
FORWARD = """
CREATE FUNCTION cases_caseevent_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'case events are immutable: % on cases_caseevent refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cases_caseevent_no_update BEFORE UPDATE OR DELETE ON cases_caseevent
    FOR EACH ROW EXECUTE FUNCTION cases_caseevent_immutable();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS cases_caseevent_no_update ON cases_caseevent;
DROP FUNCTION IF EXISTS cases_caseevent_immutable();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_cases_events_requests_photos")]

    operations = [migrations.RunPython(forward, backward)]
