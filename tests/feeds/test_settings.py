import os
import subprocess
import sys

from django.conf import settings
from django.test import SimpleTestCase

from feeds.models import retry_delay


class FeedSettingsTestCase(SimpleTestCase):
    def check_refuses(self, name: str, value: str, message: str) -> None:
        result = subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=settings.BASE_DIR,
            env={**os.environ, name: value},
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(message, result.stderr)

    def test_malformed_values_stop_gridgov_with_a_message(self):
        self.check_refuses(
            "FEEDS_RETRY_DELAYS", "10,soon", "FEEDS_RETRY_DELAYS must be comma-separated seconds"
        )
        self.check_refuses("SITE_URL", "gridgov.example", "SITE_URL='gridgov.example' must start")

    def test_the_delays_grow_then_repeat_until_the_tries_are_spent(self):
        with self.settings(FEEDS_RETRY_DELAYS=[10.0, 30.0, 120.0], FEEDS_MAX_ATTEMPTS=5):
            self.assertEqual([retry_delay(n) for n in range(1, 6)], [10, 30, 120, 120, None])
