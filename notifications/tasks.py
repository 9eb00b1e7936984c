from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    queue="notifications",
    # OSError covers SMTP failures (smtplib.SMTPException is one).
    autoretry_for=(OperationalError, InterfaceError, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
)
def send_digests() -> int:
    """E-mail each person one digest of their due, unread notifications; safe to run twice
    or on two workers at once (each notification is claimed once)."""
    from .digest import digests_send

    return digests_send()
