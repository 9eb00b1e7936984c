"""A queue woken once for many pieces of work (``governance.wake``), in the run's own cache
(Redis with REDIS_URL, else files), and the Redis cache that keeps its clients."""

import unittest

from django.conf import settings
from django.core.cache import cache, caches
from django.test import SimpleTestCase

from governance.wake import forget, wake, woken

QUEUE = "test-wake"


class WakeTestCase(SimpleTestCase):
    def setUp(self):
        forget([QUEUE])
        self.addCleanup(forget, [QUEUE])
        self.sent = []

    def send(self):
        self.sent.append(len(self.sent) + 1)

    def test_a_wake_up_waiting_in_the_queue_is_not_sent_again(self):
        self.assertTrue(wake(QUEUE, self.send))
        self.assertFalse(wake(QUEUE, self.send))
        self.assertFalse(wake(QUEUE, self.send))
        self.assertEqual(self.sent, [1])

    def test_once_the_task_has_started_the_next_piece_of_work_wakes_the_queue_again(self):
        wake(QUEUE, self.send)
        woken(QUEUE)
        self.assertTrue(wake(QUEUE, self.send))
        self.assertEqual(self.sent, [1, 2])

    def test_a_wake_up_that_could_not_be_sent_holds_back_no_other(self):
        def broken():
            raise ConnectionError("broker down")

        with self.assertRaises(ConnectionError):
            wake(QUEUE, broken)
        self.assertTrue(wake(QUEUE, self.send))
        self.assertEqual(self.sent, [1])

    def test_a_purged_queue_forgets_its_wake_up(self):
        wake(QUEUE, self.send)
        forget([QUEUE, "another"])
        self.assertTrue(wake(QUEUE, self.send))
        self.assertEqual(self.sent, [1, 2])

    def test_the_mark_expires_so_a_lost_wake_up_is_trusted_for_a_while_only(self):
        wake(QUEUE, self.send)
        if settings.REDIS_URL:
            from governance.cache import redis_key

            client, key = redis_key(f"wake:{QUEUE}")
            self.assertTrue(0 < client.ttl(key) <= settings.WAKE_SECONDS)
        else:
            self.assertIsNotNone(cache.get(f"wake:{QUEUE}"))
            self.assertTrue(cache.touch(f"wake:{QUEUE}", 1))


@unittest.skipUnless(settings.REDIS_URL, "the Redis cache is the services run's")
class KeptClientsTestCase(SimpleTestCase):
    def test_the_redis_cache_keeps_one_client_per_server(self):
        backend = caches["default"]
        first = backend._cache.get_client(write=True)
        self.assertIs(backend._cache.get_client(write=True), first)
        self.assertIs(backend._cache.get_client("any-key"), first)
        cache.set("kept-clients", 7, 10)
        self.assertEqual(cache.get("kept-clients"), 7)
        self.assertIs(backend._cache.get_client(write=True), first)
