"""Digests sent by a real Celery worker process, into real files: one e-mail per person,
and never a notification twice, however often and however concurrently the task runs."""

import time
from pathlib import Path

import pytest
from django.conf import settings

from notifications.models import Notification
from notifications.services import notify
from notifications.tasks import send_digests
from tests.base import PersonasMixin
from tests.conftest import start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# A queue of this test's own, so that only its worker (with the file backend) takes the
# task, even when the run's shared worker is also listening.
QUEUE = "notifications-digest-test"


@pytest.fixture
def mail_worker(tmp_path, transactional_db):
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    queues = settings.GRIDGOV_QUEUES
    settings.GRIDGOV_QUEUES = [QUEUE]
    try:
        worker = start_worker(
            "digest",
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(mail_dir),
        )
    finally:
        settings.GRIDGOV_QUEUES = queues
    yield mail_dir
    stop_worker(worker)


def sent_to(mail_dir: Path) -> list[str]:
    """The recipient of every message the worker wrote."""
    return sorted(
        line.removeprefix("To: ")
        for path in mail_dir.iterdir()
        for line in path.read_text().splitlines()
        if line.startswith("To: ")
    )


def test_the_worker_sends_one_digest_per_person_and_never_twice(mail_worker):
    class People(PersonasMixin):
        pass

    People.make_personas()
    for person in (People.chen, People.zhou):
        person.email = f"{person.username}@example.org"
        person.save(update_fields=["email"])
    for key in "abc":
        notify(
            [People.chen, People.zhou, People.wang], kind="t", title=f"Notice {key}", dedup_key=key
        )

    # Two runs at once (the worker has two processes), then one more.
    send_digests.apply_async(queue=QUEUE)
    send_digests.apply_async(queue=QUEUE)
    wait_for(
        lambda: not Notification.objects.due_for_email().exists(),
        message="the digests to be claimed",
    )
    wait_for(lambda: len(sent_to(mail_worker)) >= 2, message="two e-mails")
    notify([People.chen], kind="t", title="Notice d", dedup_key="d")
    send_digests.apply_async(queue=QUEUE)
    wait_for(lambda: len(sent_to(mail_worker)) >= 3, message="the next digest")
    # Give a wrongly repeated send the time to show.
    send_digests.apply_async(queue=QUEUE)
    send_digests.apply_async(queue=QUEUE)
    time.sleep(3)
    assert sent_to(mail_worker) == ["chen@example.org", "chen@example.org", "zhou@example.org"]
    messages = "".join(path.read_text() for path in mail_worker.iterdir())
    assert messages.count("Subject:") == 3
    # Each notification went out once, and "d" only in the second digest.
    for key in "abc":
        assert messages.count(f"Notice {key}") == 2, key
    assert messages.count("Notice d") == 1
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
