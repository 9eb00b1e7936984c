import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

app = Celery("governance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def purge_queues() -> None:
    """Drop every task waiting in GridGov's queues (tests and benchmarks, before they start
    their own workers), and the wake-ups they held."""
    from django.conf import settings

    from .wake import forget

    with app.connection_for_write() as conn:
        for queue in settings.GRIDGOV_QUEUES:
            conn.default_channel.queue_purge(queue)
    forget(settings.GRIDGOV_QUEUES)


@task_prerun.connect
@task_postrun.connect
def connections_as_between_requests(sender=None, **kwargs) -> None:
    """Before and after each task, what Django does before and after each request: close
    the connections that are too old (CONN_MAX_AGE), broken or left in a bad state, and
    keep the others (``CELERY_DB_REUSE_MAX`` stops Celery from closing them all). Not for
    a task run eagerly inside the caller's transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
