"""Background export jobs: created by the page, written by a Celery worker."""

import datetime
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone, translation

from stats.figures import scope_for

from .exports import CASE_MOMENTS, WRITERS, case_headers, case_rows, cases_for
from .models import ExportJob, export_dir

log = logging.getLogger(__name__)

KEEP = datetime.timedelta(days=1)


def small_export_limit() -> int:
    """Up to this many rows an export streams straight back; more go to a background job."""
    return getattr(settings, "GRIDGOV_EXPORT_STREAM_LIMIT", 5000)


def create(owner, params: dict, fmt: str, total: int) -> ExportJob:
    from .tasks import run_export

    job = ExportJob.objects.create(
        owner=owner,
        kind="cases",
        format=fmt,
        # Written in the language of the page that asked for it.
        params={**params, "language": translation.get_language()},
        total=total,
        expires_at=timezone.now() + KEEP,
    )
    transaction.on_commit(lambda: run_export.delay(job.pk))
    return job


def run(job_id: int) -> int:
    job = ExportJob.objects.filter(pk=job_id).select_related("owner").first()
    if job is None or job.status != ExportJob.Status.QUEUED:
        return 0
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING)
    try:
        owner = get_user_model().objects.get(pk=job.owner_id)
        scope = scope_for(owner)
        if scope is None:
            raise PermissionError("the owner may no longer export cases")
        queryset = cases_for(owner, job.params, scope)
        export_dir().mkdir(parents=True, exist_ok=True)
        partial = job.path.with_suffix(".part")

        def progress(n: int) -> None:
            ExportJob.objects.filter(pk=job.pk).update(rows=n)

        with translation.override(job.params.get("language")):
            headers, rows = case_headers(), case_rows(queryset)
        count = WRITERS[job.format](partial, headers, rows, progress, moments=CASE_MOMENTS)
        partial.rename(job.path)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.DONE,
            rows=count,
            total=count,
            filename=job.path.name,
            finished_at=timezone.now(),
        )
        return count
    except Exception as error:
        log.exception("export %s failed", job_id)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, error=str(error)[:1000], finished_at=timezone.now()
        )
        return 0


def delete_expired() -> int:
    expired = ExportJob.objects.filter(expires_at__lt=timezone.now())
    n = 0
    for job in expired.iterator():
        job.path.unlink(missing_ok=True)
        n += 1
    expired.delete()
    return n
