"""Cached layers: served again while nothing changed (and 304 to a browser that has them),
never after a case changed; shared only by people who see the same cases."""

from django.db import connection, transaction
from django.urls import reverse

from cases.models import Stage
from cases.workflow import perform
from maps.models import MapVersion, bump_version, current_version
from tests.maps.base import centre_of, make_case
from tests.maps.helpers import features, tile_of
from tests.maps.test_layers import MapTestCase

POSTGIS = connection.vendor == "postgresql"


class VersionTestCase(MapTestCase):
    def test_every_committed_transaction_that_writes_cases_raises_the_version_once(self):
        before = current_version()
        with self.captureOnCommitCallbacks(execute=True) as callbacks:
            perform(self.a, "accept", self.chen)  # the case and an event: two writes
        self.assertEqual(len(callbacks), 1)
        self.assertEqual(current_version(), before + 1)

        with self.captureOnCommitCallbacks(execute=True):
            make_case(point=centre_of(self.east_grids[0]))
        self.assertEqual(current_version(), before + 2)

    def test_a_rolled_back_change_raises_nothing(self):
        before = current_version()
        with self.captureOnCommitCallbacks(execute=True) as callbacks:
            with transaction.atomic():
                make_case(point=centre_of(self.east_grids[0]))
                transaction.set_rollback(True)
        self.assertEqual(callbacks, [])
        self.assertEqual(current_version(), before)

    def test_the_counter_is_made_again_if_its_row_is_gone(self):
        MapVersion.objects.all().delete()
        self.assertEqual(current_version(), 0)
        bump_version()
        self.assertEqual(current_version(), 1)

    def test_the_page_polls_a_cheap_version(self):
        self.client.force_login(self.wang)
        response = self.client.get(reverse("maps:version"))
        self.assertEqual(response.json(), {"version": current_version()})
        self.assertEqual(response["Cache-Control"], "no-store")


class CachedLayerTestCase(MapTestCase):
    def layer(self, user, **headers):
        self.client.force_login(user)
        if POSTGIS:
            x, y = tile_of(self.a.point, 16)
            return self.client.get(reverse("maps:tile", args=(16, x, y)), **headers)
        return features(self.client, headers=headers)

    def test_a_layer_is_cached_until_a_case_changes(self):
        first = self.layer(self.zhou)
        self.assertEqual(first["X-Map-Cache"], "miss")
        self.assertEqual(first["Cache-Control"], "private, no-cache")
        again = self.layer(self.zhou)
        self.assertEqual((again["X-Map-Cache"], again["ETag"]), ("hit", first["ETag"]))
        self.assertEqual(again.content, first.content)
        # The browser holds it: nothing is built or sent.
        unchanged = self.layer(self.zhou, HTTP_IF_NONE_MATCH=first["ETag"])
        self.assertEqual(unchanged.status_code, 304)

        with self.captureOnCommitCallbacks(execute=True):
            perform(self.a, "accept", self.chen)
        changed = self.layer(self.zhou, HTTP_IF_NONE_MATCH=first["ETag"])
        self.assertEqual((changed.status_code, changed["X-Map-Cache"]), (200, "miss"))
        self.assertNotEqual(changed["ETag"], first["ETag"])
        self.assertNotEqual(changed.content, first.content)
        self.assertIn(Stage.IN_PROGRESS.encode(), changed.content)

    def test_people_who_see_the_same_cases_share_the_cache_and_no_one_else(self):
        zhou = self.layer(self.zhou)
        ada = self.layer(self.ada)  # an administrator sees all cases too
        self.assertEqual((ada["X-Map-Cache"], ada.content), ("hit", zhou.content))
        chen = self.layer(self.chen)
        self.assertEqual(chen["X-Map-Cache"], "miss")
        self.assertNotEqual(chen.content, zhou.content)
        wang = self.layer(self.wang)
        self.assertEqual(wang["X-Map-Cache"], "miss")

    def test_the_filters_are_part_of_the_key(self):
        self.client.force_login(self.zhou)
        all_cases = features(self.client)
        overdue = features(self.client, overdue="on")
        self.assertEqual(overdue["X-Map-Cache"], "miss")
        self.assertEqual(len(overdue.json()["features"]), 2)
        self.assertEqual(len(all_cases.json()["features"]), 6)
