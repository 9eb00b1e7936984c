from celery import shared_task


@shared_task(ignore_result=True)
def run_export(job_id: int) -> int:
    """Write one export job's file, recording progress as it goes."""
    from .jobs import run

    return run(job_id)


@shared_task(ignore_result=True)
def delete_expired_exports() -> int:
    from .jobs import delete_expired

    return delete_expired()
