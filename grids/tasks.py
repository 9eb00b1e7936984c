import datetime
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .importer import ImportFailed, import_file
from .models import ImportJob

logger = logging.getLogger(__name__)


# No retries: a rejected file needs a person, not another attempt. With late acks a job whose
# worker died is delivered again, and the claim keeps one that already started from running
# twice.
@shared_task(ignore_result=True)
def run_import(job_id: int) -> None:
    if not ImportJob.claim(job_id):
        return
    job = ImportJob.objects.get(pk=job_id)
    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            result = import_file(
                path=job.upload.path,
                kind=job.kind,
                mapping=job.mapping,
                layer=job.layer,
                repair=job.repair,
                assume_wgs84=job.assume_wgs84,
                progress=job.record_progress,
            )
        except ImportFailed as error:
            job.finish(report=[], message=str(error))
        except Exception:
            logger.exception("Import %s failed", job_id)
            job.finish(report=[], message=_("The import stopped on an error; nothing was written."))
        else:
            job.finish(report=result.problems, created=result.created, replaced=result.replaced)


@shared_task(ignore_result=True)
def ensure_imports_finish() -> int:
    """Close imports left "running" by a worker that died: nothing was written (the write
    is one transaction), and the uploader is told to try again."""
    cutoff = timezone.now() - datetime.timedelta(seconds=settings.IMPORT_STALL_SECONDS)
    stalled = ImportJob.objects.filter(status=ImportJob.Status.RUNNING, created_at__lt=cutoff)
    count = 0
    for job in stalled:
        with translation.override(job.language or settings.LANGUAGE_CODE):
            job.finish(
                report=[],
                message=_(
                    "The import stopped when its worker did; nothing was written."
                    " Upload the file again."
                ),
            )
        count += 1
    return count
