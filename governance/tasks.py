from celery import shared_task
from django.utils import timezone

from .models import Heartbeat


@shared_task(bind=True, ignore_result=True)
def record_heartbeat(self) -> None:
    Heartbeat.objects.update_or_create(
        name="worker",
        defaults={"hostname": self.request.hostname or "", "seen_at": timezone.now()},
    )
