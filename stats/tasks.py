from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def ensure_figures_current() -> int:
    """Read the events past the high-water mark into the figures (every few seconds)."""
    from .rollup import catch_up

    return catch_up()


@shared_task(ignore_result=True)
def rebuild_figures() -> int | None:
    """Recompute every figure from the whole history (nightly); returns the cases whose
    figures the incremental path had got wrong (should be 0)."""
    from .rollup import rebuild

    return rebuild().rebuild_differences
