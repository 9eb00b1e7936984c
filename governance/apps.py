from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def ensure_spatialite_indexes(using="default", **kwargs):
    """Re-enable SpatiaLite's R*Tree index on every geometry column after migrations.

    Django rebuilds a SQLite table whenever a migration adds a constraint or alters a
    column, and the rebuilt table's geometry column is left with its spatial index
    disabled and empty; lookups that ask the R*Tree for candidates would find nothing.
    """
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT f_table_name, f_geometry_column FROM geometry_columns"
            " WHERE spatial_index_enabled = 0 AND f_table_name NOT LIKE 'iso_%'"
        )
        for table, column in cursor.fetchall():
            cursor.execute(f'DROP TABLE IF EXISTS "idx_{table}_{column}"')
            cursor.execute("SELECT CreateSpatialIndex(%s, %s)", [table, column])


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = _("System")

    def ready(self):
        post_migrate.connect(ensure_spatialite_indexes, dispatch_uid="ensure_spatialite_indexes")
