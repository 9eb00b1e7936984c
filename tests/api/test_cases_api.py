import datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import Case, CaseEvent, Category, FilingCondition, Photo, Stage
from cases.workflow import perform
from clocks.models import Clock
from clocks.services import clocks_update
from keys.models import ApiRequestLog
from org.models import Role
from tests.api.base import IN_STREET_B, ApiWorldMixin
from tests.cases.base import INSIDE, jpeg, photo

CASES = reverse("cases_api:cases")


def case_url(case, name="case", **kwargs):
    return reverse(f"cases_api:{name}", kwargs={"pk": case.pk, **kwargs})


def act_url(case, action):
    return case_url(case, "act", action=action)


class ApiTestCase(ApiWorldMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_api_world()

    def ids(self, response) -> set[int]:
        self.assertEqual(response.status_code, 200, response.content[:500])
        return {row["id"] for row in response.json()["results"]}


class ReadAccessTestCase(ApiTestCase):
    def test_every_role_sees_what_its_pages_show(self):
        everything = {self.case_a.pk, self.case_b.pk, self.case_h.pk}
        expected = {
            Role.DISPATCHER: everything,
            Role.SHIFT_LEADER: everything,
            Role.SUPERVISOR: everything,
            Role.ADMINISTRATOR: everything,
            # Wang's grids hold A and H; B is in Qian's street.
            Role.GRID_WORKER: {self.case_a.pk, self.case_h.pk},
            # Sanitation's cases only.
            Role.OFFICER: {self.case_a.pk},
        }
        for role, person in self.personas.items():
            with self.subTest(role=role):
                seen = self.ids(self.call("GET", CASES, user=person))
                self.assertEqual(seen, expected[role])
                for case in (self.case_a, self.case_b, self.case_h):
                    for name in ("case", "events", "actions"):
                        response = self.call("GET", case_url(case, name), user=person)
                        wanted = 200 if case.pk in expected[role] else 404
                        self.assertEqual(response.status_code, wanted, (name, case.pk))

    def test_reference_data_is_open_to_every_role(self):
        for role, person in self.personas.items():
            for url in (
                reverse("cases_api:categories"),
                reverse("cases_api:departments"),
                reverse("grids_api:areas"),
                reverse("api-schema"),
            ):
                with self.subTest(role=role, url=url):
                    self.assertEqual(self.call("GET", url, user=person).status_code, 200)

    def test_it_refuses_anonymous_callers_and_people_without_a_role(self):
        urls = [
            CASES,
            case_url(self.case_a),
            case_url(self.case_a, "events"),
            case_url(self.case_a, "actions"),
            reverse("cases_api:categories"),
            reverse("cases_api:departments"),
        ]
        for url in urls:
            with self.subTest(url=url):
                self.assertError(self.call("GET", url), 401, contains="not provided")
                self.assertError(self.call("GET", url, user=self.nobody), 403, contains="no role")
        self.assertError(self.call("POST", act_url(self.case_a, "accept")), 401)

    def test_the_case_and_its_timeline(self):
        body = self.call("GET", case_url(self.case_a), user=self.li).json()
        self.assertEqual(body["stage"], "dispatched")
        self.assertEqual(body["department"], {"id": self.sanitation.pk, "name": "环卫中心"})
        self.assertEqual(body["community"], self.community.code)
        self.assertEqual(body["street"], self.street_a.code)
        self.assertEqual(body["point"]["type"], "Point")
        self.assertEqual(body["version"], self.case_a.version)
        events = self.call("GET", case_url(self.case_a, "events"), user=self.li).json()
        self.assertEqual([e["action"] for e in events], ["report", "file", "dispatch"])
        self.assertEqual(events[1]["actor"], "李军")
        self.assertEqual(events[1]["label"], "File")

    def test_allowed_actions_follow_the_transition_table(self):
        actions = self.call("GET", case_url(self.case_a, "actions"), user=self.chen).json()
        names = {a["action"] for a in actions}
        self.assertIn("accept", names)
        self.assertNotIn("file", names)
        supervisor = self.call("GET", case_url(self.case_a, "actions"), user=self.zhou).json()
        self.assertNotIn("accept", {a["action"] for a in supervisor})
        leader = {
            a["action"]
            for a in self.call("GET", case_url(self.case_b, "actions"), user=self.li).json()
        }
        self.assertIn("file", leader)

    def test_categories_carry_their_filing_conditions(self):
        body = self.call("GET", reverse("cases_api:categories"), user=self.wang).json()
        garbage = next(c for c in body if c["full_code"] == "E0102")
        self.assertTrue(garbage["conditions"])
        self.assertIn("limit_unit", garbage["conditions"][0])


class RepresentationTestCase(ApiTestCase):
    def test_the_case_written_by_hand_is_what_drf_reads_from_the_declared_fields(self):
        """``CaseSerializer.to_representation`` writes each field itself; DRF's own reading
        of the declared fields must give the same, case by case, with and without the
        right to personal data."""
        from rest_framework import serializers
        from rest_framework.test import APIRequestFactory

        from cases.api import with_related
        from cases.serializers import CaseSerializer

        merged = self.report(description="重复")
        perform(merged, "file", self.li)
        perform(merged, "merge", self.li, reason="同一处", data={"into": self.case_a.pk})
        closed = self.case_in("checking")
        perform(closed, "check_pass", self.wang, photos=[photo()])
        Case.objects.filter(pk=self.case_b.pk).update(
            grid=None, community=None, street=None, district=None
        )
        cases = with_related(Case.objects.filter(
            pk__in=[self.case_a.pk, self.case_b.pk, self.case_h.pk, merged.pk, closed.pk]
        ))  # fmt: skip
        # Every kind of value: people and a department or none, places or none, a merge.
        self.assertLessEqual(
            {"dispatched", "merged", "closed", "verifying"}, {c.stage for c in cases}
        )
        for name in (
            "assignee_id",
            "field_worker_id",
            "department_id",
            "grid_id",
            "merged_into_id",
        ):
            self.assertEqual({getattr(c, name) is None for c in cases}, {True, False}, name)
        for person in (self.li, self.zhou):
            request = APIRequestFactory().get("/")
            request.user, request.auth = person, None
            serializer = CaseSerializer(context={"request": request})
            for case in cases:
                with self.subTest(person=person.username, stage=case.stage):
                    by_hand = serializer.to_representation(case)
                    by_drf = serializers.ModelSerializer.to_representation(serializer, case)
                    self.assertEqual(by_hand, dict(by_drf))
                    self.assertEqual(list(by_hand), list(by_drf))


class FilterTestCase(ApiTestCase):
    def test_it_filters(self):
        cases = {
            "stage=dispatched": {self.case_a.pk},
            "stage=reported&stage=verifying": {self.case_b.pk, self.case_h.pk},
            "category=E01": {self.case_a.pk, self.case_b.pk, self.case_h.pk},
            "category=C": set(),
            f"department={self.sanitation.pk}": {self.case_a.pk},
            f"area={self.street_b.code}": {self.case_b.pk},
            f"area={self.community.code}": {self.case_a.pk, self.case_h.pk},
            f"grid={self.case_b.grid.code}": {self.case_b.pk},
            "bbox=116.409,39.919,116.413,39.923": {self.case_b.pk},
            "overdue=true": set(),
            "overdue=false": {self.case_a.pk, self.case_b.pk, self.case_h.pk},
            "reported_to=2001-01-01": set(),
            "source=hotline": {self.case_h.pk},
        }
        for query, expected in cases.items():
            with self.subTest(query=query):
                self.assertEqual(
                    self.ids(self.call("GET", f"{CASES}?{query}", user=self.li)), expected
                )

    def test_overdue_means_open_and_past_its_deadline(self):
        Case.objects.filter(pk=self.case_a.pk).update(
            deadline=self.case_a.filed_at - datetime.timedelta(hours=1)
        )
        self.assertEqual(
            self.ids(self.call("GET", f"{CASES}?overdue=true", user=self.li)), {self.case_a.pk}
        )

    def test_it_pages(self):
        body = self.call("GET", f"{CASES}?page_size=2", user=self.li).json()
        self.assertEqual(body["count"], 3)
        self.assertEqual(len(body["results"]), 2)
        self.assertTrue(body["next"])
        self.assertError(self.call("GET", f"{CASES}?page=9", user=self.li), 404)

    def test_bad_filters_are_400_naming_the_field(self):
        for query, field in (
            ("stage=lost", "stage"),
            ("bbox=1,2,3", "bbox"),
            ("reported_from=yesterday", "reported_from"),
            ("department=x", "department"),
        ):
            with self.subTest(query=query):
                self.assertError(self.call("GET", f"{CASES}?{query}", user=self.li), 400, field)


class CreateTestCase(ApiTestCase):
    def patrol(self, **overrides):
        data = {
            "category": self.category.pk,
            "description": "人行道上有一堆建筑垃圾",
            "lon": INSIDE.x,
            "lat": INSIDE.y,
            "photos": [jpeg()],
        }
        data.update(overrides)
        return data

    def test_a_grid_worker_reports_with_photos(self):
        response = self.call("POST", CASES, self.patrol(), user=self.wang, multipart=True)
        self.assertEqual(response.status_code, 201, response.content)
        case = Case.objects.get(pk=response.json()["id"])
        self.assertEqual(
            (case.stage, case.source, case.reporter), ("reported", "patrol", self.wang)
        )
        self.assertEqual(case.grid.community, self.community)
        self.assertEqual(case.photos.get().kind, Photo.Kind.BEFORE)
        self.assertEqual(case.events.get().actor, self.wang)

    def centre_files_at_once(self, description: str):
        """The centre (Li) registers a call and files it in the same request: the request's
        data, its response and the callbacks it left for after the commit."""
        data = {
            "category": self.category.pk,
            "description": description,
            "lon": INSIDE.x,
            "lat": INSIDE.y,
            "source": "leader",
            "file": True,
        }
        with self.captureOnCommitCallbacks() as callbacks:
            response = self.call("POST", CASES, data, user=self.li)
        self.assertEqual(response.status_code, 201, response.content)
        return data, response, callbacks

    def test_the_centre_registers_a_hotline_call_and_may_file_it_at_once(self):
        data, response, callbacks = self.centre_files_at_once("市民来电：路边垃圾堆放")
        body = response.json()
        self.assertEqual(body["stage"], "filed")
        self.assertTrue(body["number"].startswith("E0102"))
        case = Case.objects.get(pk=body["id"])
        self.assertTrue(case.needs_routing)
        self.assertEqual([e.actor for e in case.events.all()], [self.li, self.li])
        # Routing is enqueued once the filing committed.
        self.assertEqual(len([c for c in callbacks if c.__module__ == "cases.effects"]), 1)
        hotline = {**data, "source": "hotline"}
        self.assertError(self.call("POST", CASES, hotline, user=self.li), 400, "file", "verified")

    def test_a_case_filed_as_it_is_reported_is_answered_and_clocked_as_stored(self):
        """Reported and filed in one request, the case is not read back and its clocks are
        computed once, from the events in hand: the answer is the stored case, the clocks
        are those its stored history gives, and the map's version is raised once."""
        _data, response, callbacks = self.centre_files_at_once("市民来电：井盖缺失")
        case = Case.objects.get(pk=response.json()["id"])
        self.assertEqual(response.json(), self.call("GET", case_url(case), user=self.li).json())
        # The map hears of the new case once, however many rows the request wrote.
        bumps = [c for c in callbacks if getattr(c, "_maps_bump", False)]
        self.assertEqual(len(bumps), 1)

        def clocks():
            rows = Clock.objects.filter(case=case).order_by("kind", "seq")
            fields = ("state", "deadline", "warn_at", "allowed", "started_at", "stopped_at")
            return [
                (c.kind, c.seq, *(getattr(c, f) for f in fields), c.deadline_version,
                 sorted((s.step_id, s.fire_at) for s in c.steps.all()))
                for c in rows
            ]  # fmt: skip

        written = clocks()
        kinds = {kind: state for kind, _seq, state, *_rest in written}
        self.assertEqual(kinds, {"case": "running", "file": "stopped", "dispatch": "running"})
        self.assertTrue(all(row[-1] for row in written if row[2] == "running"))
        self.assertEqual(case.deadline, next(row[3] for row in written if row[0] == "case"))
        clocks_update(Case.objects.get(pk=case.pk))  # again, from the stored history
        self.assertEqual(clocks(), written)

    def test_it_reads_what_it_keeps_in_memory_once_and_sees_each_change_at_once(self):
        """Credentials, categories and clock rules come from this process's memory under
        version tokens that one statement reads; a change to any reaches the next request."""
        _data, first, _callbacks = self.centre_files_at_once("第一件")
        with CaptureQueriesContext(connection) as captured:
            self.centre_files_at_once("第二件")
        tokens = [q["sql"] for q in captured if "token FROM" in q["sql"]]
        self.assertEqual(len(tokens), 1, tokens)
        self.assertFalse([q["sql"] for q in captured if '"cases_category"' in q["sql"]])
        condition = FilingCondition.objects.get(pk=first.json()["condition"])
        doubled = condition.limit_value * 2
        FilingCondition.objects.filter(pk=condition.pk).update(limit_value=doubled)
        _data, longer, _callbacks = self.centre_files_at_once("第三件")
        self.assertGreater(longer.json()["deadline"], first.json()["deadline"])
        Category.objects.filter(pk=self.category.pk).update(is_active=False)
        data = {"category": self.category.pk, "description": "停用", "lon": INSIDE.x,
                "lat": INSIDE.y, "source": "leader"}  # fmt: skip
        refused = self.call("POST", CASES, data, user=self.li)
        self.assertError(refused, 400, "category", "Invalid pk")

    def test_only_grid_workers_and_dispatchers_report(self):
        for role, person in self.personas.items():
            data = (
                self.patrol()
                if role == Role.GRID_WORKER
                else {**self.patrol(photos=[]), "source": "hotline"}
            )
            with self.subTest(role=role):
                response = self.call("POST", CASES, data, user=person, multipart=True)
                if role in (Role.GRID_WORKER, Role.DISPATCHER):
                    self.assertEqual(response.status_code, 201, response.content)
                else:
                    self.assertError(response, 403, contains="Only grid workers and dispatchers")
        self.assertError(
            self.call("POST", CASES, self.patrol(), user=self.nobody, multipart=True), 403
        )

    def test_bad_input_is_400_naming_the_field_and_saves_nothing(self):
        before = Case.objects.count()
        for overrides, field, message in (
            ({"category": 999999}, "category", "Invalid pk"),
            ({"category": self.category.parent_id}, "category", "Invalid pk"),
            ({"description": ""}, "description", "may not be blank"),
            ({"lon": 500}, "lon", "less than or equal to 180"),
            ({"lat": "north"}, "lat", "valid number"),
            ({"urgency": "panic"}, "urgency", "not a valid choice"),
            ({"source": "hotline"}, "source", "Only the centre"),
            ({"photos": []}, "photos", "Add at least one photo"),
        ):
            with self.subTest(field=field):
                data = self.patrol(**overrides)
                if overrides.get("photos") == []:
                    del data["photos"]
                response = self.call("POST", CASES, data, user=self.wang, multipart=True)
                self.assertError(response, 400, field, message)
        self.assertEqual(Case.objects.count(), before)

    def test_photos_that_are_not_photos_are_refused_with_a_message(self):
        before = Case.objects.count()
        fake = SimpleUploadedFile("notes.jpg", b"not an image at all", content_type="image/jpeg")
        response = self.call(
            "POST", CASES, self.patrol(photos=[fake]), user=self.wang, multipart=True
        )
        self.assertError(response, 400, "photos", "“notes.jpg” is not a photo")
        with self.settings(PHOTO_MAX_BYTES=10):
            response = self.call("POST", CASES, self.patrol(), user=self.wang, multipart=True)
        self.assertError(response, 400, "photos", "photos may be at most")
        self.assertEqual(Case.objects.count(), before)
        self.assertFalse(
            Photo.objects.filter(case__reporter=self.wang, case__pk__gt=self.case_h.pk).exists()
        )

    def test_malformed_json_is_a_json_error(self):
        self.client.force_login(self.li)
        response = self.client.post(CASES, "{not json", content_type="application/json")
        self.assertError(response, 400, None, "JSON parse error")


class ActTestCase(ApiTestCase):
    def test_an_officer_accepts_through_the_workflow(self):
        response = self.call(
            "POST", act_url(self.case_a, "accept"), {"version": self.case_a.version}, user=self.chen
        )
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual(body["case"]["stage"], "in_progress")
        self.assertEqual(body["case"]["version"], self.case_a.version + 1)
        self.assertEqual(body["event"]["actor"], "陈杰")
        self.assertEqual(CaseEvent.objects.filter(case=self.case_a).latest("id").actor, self.chen)

    def test_a_stale_version_is_409_and_changes_nothing(self):
        stale = self.case_a.version
        self.call("POST", act_url(self.case_a, "accept"), {"version": stale}, user=self.chen)
        response = self.call(
            "POST",
            act_url(self.case_a, "request_extension"),
            {"version": stale, "reason": "材料未到", "hours": "8"},
            user=self.chen,
        )
        self.assertError(response, 409, "version", "This case changed")
        self.assertFalse(self.case_a.requests.exists())

    def test_an_action_sent_again_after_a_lost_answer_is_done_once(self):
        body = {"version": self.case_a.version}
        first = self.call("POST", act_url(self.case_a, "accept"), body, user=self.chen)
        self.assertEqual(first.status_code, 200, first.content)
        again = self.call("POST", act_url(self.case_a, "accept"), body, user=self.chen)
        self.assertEqual(again.status_code, 200, again.content)
        self.assertEqual(again["Idempotent-Replayed"], "true")
        self.assertEqual(again.json(), first.json())
        self.assertEqual(self.case_a.events.filter(action="accept").count(), 1)
        # Another person's action since is a change to look at, not a replay.
        self.case_a.refresh_from_db()
        seen = self.case_a.version
        perform(self.case_a, "supervise", self.zhou, reason="抓紧", data={"level": 1})
        stale = {"version": seen, "reason": "材料未到", "hours": "8"}
        response = self.call(
            "POST", act_url(self.case_a, "request_extension"), stale, user=self.chen
        )
        self.assertError(response, 409, "version", "This case changed")

    def test_an_action_sent_again_with_other_choices_is_a_change_not_a_replay(self):
        seen = self.case_a.version
        first = {"version": seen, "reason": "材料未到", "hours": "8"}
        response = self.call(
            "POST", act_url(self.case_a, "request_extension"), first, user=self.chen
        )
        self.assertEqual(response.status_code, 200, response.content)
        # What tells a request sent again from another stays inside GridGov.
        self.assertNotIn("sent", response.json()["event"]["payload"])
        other = {"version": seen, "reason": "材料未到", "hours": "24"}
        response = self.call(
            "POST", act_url(self.case_a, "request_extension"), other, user=self.chen
        )
        self.assertError(response, 409, "version", "This case changed")
        self.assertNotIn("Idempotent-Replayed", response)
        self.assertEqual(self.case_a.requests.count(), 1)

    def test_every_role_may_only_take_its_own_actions(self):
        for role, person in self.personas.items():
            with self.subTest(role=role):
                response = self.call(
                    "POST",
                    act_url(self.case_a, "accept"),
                    {"version": self.case_a.version},
                    user=person,
                )
                if role == Role.OFFICER:
                    self.assertEqual(response.status_code, 200)
                elif role == Role.GRID_WORKER:
                    self.assertError(response, 403, None, "does not allow")
                else:
                    self.assertError(response, 403, None, "does not allow")
            self.case_a.refresh_from_db()
            if self.case_a.stage != Stage.DISPATCHED:
                break

    def test_an_action_needing_input_says_which(self):
        self.call(
            "POST", act_url(self.case_a, "accept"), {"version": self.case_a.version}, user=self.chen
        )
        self.case_a.refresh_from_db()
        url = act_url(self.case_a, "request_extension")
        version = self.case_a.version
        self.assertError(
            self.call("POST", url, {"version": version, "hours": "8"}, user=self.chen),
            400,
            "reason",
            "Give a reason",
        )
        self.assertError(
            self.call(
                "POST", url, {"version": version, "reason": "x", "hours": "-1"}, user=self.chen
            ),
            400,
            "hours",
        )
        self.assertError(
            self.call("POST", url, {"reason": "x"}, user=self.chen), 400, "version", "required"
        )
        done = act_url(self.case_a, "report_done")
        self.assertError(
            self.call("POST", done, {"version": version}, user=self.chen),
            400,
            "photos",
            "Add at least one photo",
        )
        response = self.call(
            "POST", done, {"version": version, "photos": [jpeg()]}, user=self.chen, multipart=True
        )
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(self.case_a.photos.filter(kind="after").count(), 1)

    def test_an_unknown_action_or_invisible_case_is_404(self):
        self.assertError(
            self.call("POST", act_url(self.case_a, "teleport"), {"version": 1}, user=self.li), 404
        )
        self.assertError(
            self.call("POST", act_url(self.case_a, "accept"), {"version": 1}, user=self.sun), 404
        )


class ApiKeyCasesTestCase(ApiTestCase):
    def test_a_key_for_street_a_cannot_read_street_b(self):
        key = self.key("cases:read")
        self.assertEqual(
            self.ids(self.call("GET", CASES, key=key)), {self.case_a.pk, self.case_h.pk}
        )
        for name in ("case", "events", "actions"):
            self.assertError(self.call("GET", case_url(self.case_b, name), key=key), 404)
            self.assertEqual(
                self.call("GET", case_url(self.case_a, name), key=key).status_code, 200
            )
        city = self.key("cases:read", areas="all", name="city")
        self.assertEqual(len(self.ids(self.call("GET", CASES, key=city))), 3)
        b_only = self.key("cases:read", areas=[self.street_b], name="b")
        self.assertEqual(self.ids(self.call("GET", CASES, key=b_only)), {self.case_b.pk})

    def test_a_key_without_the_scope_is_refused(self):
        key = self.key()
        for url in (CASES, case_url(self.case_a), case_url(self.case_a, "events")):
            self.assertError(self.call("GET", url, key=key), 403, None, "scope")
        # Reference data needs no scope.
        self.assertEqual(
            self.call("GET", reverse("cases_api:categories"), key=key).status_code, 200
        )
        data = {
            "category": self.category.pk,
            "description": "热线",
            "lon": INSIDE.x,
            "lat": INSIDE.y,
        }
        self.assertError(self.call("POST", CASES, data, key=key), 403, None, "scope")

    def test_a_key_reports_within_its_areas_as_its_service_account(self):
        key = self.key("cases:create")
        data = {
            "category": self.category.pk,
            "description": "市民来电：垃圾",
            "lon": INSIDE.x,
            "lat": INSIDE.y,
            "citizen_name": "李四",
            "citizen_phone": "13900000000",
        }
        response = self.call("POST", CASES, data, key=key)
        self.assertEqual(response.status_code, 201, response.content)
        case = Case.objects.get(pk=response.json()["id"])
        self.assertEqual((case.source, case.stage), ("hotline", "verifying"))
        self.assertEqual(case.events.get().actor, self.hotline)
        log = ApiRequestLog.objects.get(method="POST")
        self.assertEqual(
            (log.user, log.api_key.name, log.status), (self.hotline, "12345 hotline", 201)
        )
        elsewhere = {**data, "lon": IN_STREET_B.x, "lat": IN_STREET_B.y}
        self.assertError(
            self.call("POST", CASES, elsewhere, key=key), 400, "lon", "outside the areas"
        )
        self.assertError(self.call("POST", CASES, {**data, "file": True}, key=key), 400, "file")
        mistyped = {**data, "citizen_phone": "138abc0000x"}
        self.assertError(
            self.call("POST", CASES, mistyped, key=key), 400, "citizen_phone", "phone number"
        )
        self.assertFalse(Case.objects.filter(citizen_phone="138abc0000x").exists())

    def test_a_request_sent_again_with_its_idempotency_key_makes_no_second_case(self):
        key = self.key("cases:create")
        data = {
            "category": self.category.pk,
            "description": "市民来电：井盖缺失",
            "lon": INSIDE.x,
            "lat": INSIDE.y,
        }
        ticket = {"HTTP_IDEMPOTENCY_KEY": "12345-20261201-0042"}
        before = Case.objects.count()
        first = self.call("POST", CASES, data, key=key, **ticket)
        self.assertEqual(first.status_code, 201, first.content)
        self.assertNotIn("Idempotent-Replayed", first)
        # Sent again after a timeout, even with a changed body: the first case, 200.
        again = self.call("POST", CASES, {**data, "description": "重发"}, key=key, **ticket)
        self.assertEqual(again.status_code, 200, again.content)
        self.assertEqual(again["Idempotent-Replayed"], "true")
        self.assertEqual(again.json(), first.json())
        self.assertEqual(Case.objects.count(), before + 1)
        # Another ticket is another case; the same ticket from another person is theirs.
        other = self.call("POST", CASES, data, key=key, HTTP_IDEMPOTENCY_KEY="12345-20261201-0043")
        self.assertEqual(other.status_code, 201)
        mine = self.call("POST", CASES, {**data, "source": "hotline"}, user=self.li, **ticket)
        self.assertEqual(mine.status_code, 201)
        self.assertEqual(Case.objects.count(), before + 3)
        # Without the header every request is a new report, as before.
        self.assertEqual(self.call("POST", CASES, data, key=key).status_code, 201)
        self.assertEqual(Case.objects.count(), before + 4)

    def test_a_bad_idempotency_key_is_400_and_another_keys_case_is_not_shown(self):
        key = self.key("cases:create")
        data = {
            "category": self.category.pk,
            "description": "垃圾",
            "lon": INSIDE.x,
            "lat": INSIDE.y,
        }
        before = Case.objects.count()
        for bad in ("x" * 256, "   "):
            self.assertError(
                self.call("POST", CASES, data, key=key, HTTP_IDEMPOTENCY_KEY=bad),
                400,
                "Idempotency-Key",
                "at most 255 characters",
            )
        self.assertEqual(Case.objects.count(), before)
        made = self.call("POST", CASES, data, key=key, HTTP_IDEMPOTENCY_KEY="T-1")
        self.assertEqual(made.status_code, 201)
        # The same service account through a key for street B only: the case in street A
        # is not shown to it, and no second case is made.
        street_b = self.key("cases:create", areas=[self.street_b], name="street B")
        self.assertError(
            self.call("POST", CASES, data, key=street_b, HTTP_IDEMPOTENCY_KEY="T-1"),
            400,
            "Idempotency-Key",
            "may not see",
        )
        self.assertEqual(Case.objects.count(), before + 1)

    def test_a_key_acts_only_with_the_action_scope(self):
        without = self.key("cases:read", user=self.contractor, name="no act")
        url = act_url(self.case_a, "accept")
        self.assertEqual(self.call("GET", case_url(self.case_a, "actions"), key=without).json(), [])
        self.assertError(
            self.call("POST", url, {"version": self.case_a.version}, key=without),
            403,
            None,
            "scope",
        )
        self.key("cases:read", "cases:act:accept", user=self.contractor, name="with act")
        with_act = self.key("cases:read", "cases:act:accept", user=self.contractor, name="act 2")
        actions = self.call("GET", case_url(self.case_a, "actions"), key=with_act).json()
        self.assertEqual([a["action"] for a in actions], ["accept"])
        response = self.call("POST", url, {"version": self.case_a.version}, key=with_act)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(
            CaseEvent.objects.filter(case=self.case_a).latest("id").actor, self.contractor
        )


class PersonalDataTestCase(ApiTestCase):
    def citizen(self, response):
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        return body["citizen_name"], body["citizen_phone"]

    def test_only_the_centre_sees_citizens_details(self):
        # Within the officer's department, so that every role sees the case itself.
        Case.objects.filter(pk=self.case_h.pk).update(department=self.sanitation)
        for role, person in self.personas.items():
            with self.subTest(role=role):
                shown = self.citizen(self.call("GET", case_url(self.case_h), user=person))
                if role in (Role.DISPATCHER, Role.SHIFT_LEADER):
                    self.assertEqual(shown, ("张三", "13800000000"))
                else:
                    self.assertEqual(shown, (None, None))
        listed = self.call("GET", CASES, user=self.zhou).json()["results"]
        self.assertNotIn("13800000000", str(listed))

    def test_a_key_needs_the_personal_data_scope(self):
        plain = self.key("cases:read")
        self.assertEqual(
            self.citizen(self.call("GET", case_url(self.case_h), key=plain)), (None, None)
        )
        self.assertNotIn("13800000000", self.call("GET", CASES, key=plain).content.decode())
        allowed = self.key("cases:read", "personal_data", name="with pd")
        self.assertEqual(
            self.citizen(self.call("GET", case_url(self.case_h), key=allowed)),
            ("张三", "13800000000"),
        )
        # The scope does not lift the role's own limit.
        officer = self.key(
            "cases:read", "personal_data", user=self.contractor, areas="all", name="o"
        )
        Case.objects.filter(pk=self.case_h.pk).update(department=self.sanitation)
        self.assertEqual(
            self.citizen(self.call("GET", case_url(self.case_h), key=officer)), (None, None)
        )
