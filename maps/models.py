"""The shared case map keeps one thing of its own: a counter of committed case changes.

Every saved case or case event raises it once its transaction commits. Map tiles are cached
under the counter's value, and the page polls it, so a change reaches every open map within
seconds and no cached tile outlives the data it was drawn from. It lives in the database
because the web processes and the Celery worker (which routes cases) all change cases.
"""

from django.db import connections, models, transaction
from django.utils.translation import gettext_lazy as _

from governance.db import execute_unflushed


class MapVersion(models.Model):
    """One row (pk 1): how many committed changes to cases the map has been told of."""

    value = models.BigIntegerField(_("version"), default=0)

    class Meta:
        verbose_name = _("map version")
        verbose_name_plural = _("map versions")

    def __str__(self) -> str:
        return str(self.value)


def current_version(using: str = "default") -> int:
    value = MapVersion.objects.using(using).filter(pk=1).values_list("value", flat=True).first()
    return value or 0


def bump_version(using: str = "default") -> None:
    """Raise the counter (outside the case's transaction: the row lock lasts one statement).

    On PostgreSQL without waiting for the disk: every transaction that writes cases bumps
    this one row, and with a flush per bump they queued behind each other's flushes (about
    5 ms each here, a ceiling near 200 bumps a second for the whole city). The price: a
    crash of the database may lose its last bumps (under a second of them), and until the
    counter passes the lost values again, tiles cached under them may be served for up to
    that second of changes."""
    table = connections[using].ops.quote_name(MapVersion._meta.db_table)
    execute_unflushed(
        f"INSERT INTO {table} (id, value) VALUES (1, 1)"
        f" ON CONFLICT (id) DO UPDATE SET value = {table}.value + 1",
        using=using,
    )


def _bump_on_commit(using: str) -> None:
    bump_version(using)


def case_written(sender, instance, using="default", **kwargs) -> None:
    """Signal receiver: raise the counter after the surrounding transaction commits.

    After, not during: a map reading the new value while the change is still uncommitted
    would cache a tile of the old data under the new version. One bump per transaction is
    enough, however many cases and events it wrote.
    """
    connection = connections[using]
    # One already waiting at this same savepoint level commits or rolls back with this
    # write. (Test cases run callbacks registered in their own savepoint only, so a bump
    # waiting at another level is not relied on.)
    level = set(connection.savepoint_ids)
    if connection.in_atomic_block and any(
        getattr(func, "_maps_bump", False) and set(sids) == level
        for sids, func, _robust in connection.run_on_commit
    ):
        return

    def bump() -> None:
        _bump_on_commit(using)

    bump._maps_bump = True  # type: ignore[attr-defined]
    transaction.on_commit(bump, using=using, robust=True)
