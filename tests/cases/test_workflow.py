from django.core.exceptions import ValidationError

from cases.models import CaseEvent, CaseReporter, CaseRequest, Photo, Source, Stage, Supervision
from cases.workflow import (
    TRANSITIONS,
    CaseChanged,
    InvalidInput,
    NotAllowed,
    allowed_actions,
    perform,
)
from tests.cases.base import CaseTestCase, photo


class ClosedLoopTestCase(CaseTestCase):
    def test_a_patrol_report_goes_round_the_whole_loop(self):
        case = self.report(photos=[photo()])
        self.assertEqual(case.stage, Stage.REPORTED)
        # The south-west cell of the 2 x 2 community: third in west-east, north-south order.
        self.assertEqual(case.grid, self.grids[2])
        self.assertEqual(case.community, self.community)
        self.assertIsNone(case.number)

        perform(case, "file", self.li)
        self.assertRegex(case.number, r"^E0102\d{8}0001$")
        self.assertIsNotNone(case.deadline)
        perform(case, "dispatch", self.li, data={"department": self.sanitation.pk})
        perform(case, "accept", self.chen)
        self.assertEqual(case.assignee, self.chen)
        perform(case, "report_done", self.chen, photos=[photo()])
        self.assertEqual(case.field_worker, self.wang)
        perform(case, "check_pass", self.wang, photos=[photo()])

        self.assertEqual(case.stage, Stage.CLOSED)
        self.assertIsNotNone(case.closed_at)
        events = list(
            case.events.values_list("action", "from_stage", "to_stage", "actor__username")
        )
        self.assertEqual(
            events,
            [
                ("report", "", "reported", "wang"),
                ("file", "reported", "filed", "li"),
                ("dispatch", "filed", "dispatched", "li"),
                ("accept", "dispatched", "in_progress", "chen"),
                ("report_done", "in_progress", "checking", "chen"),
                ("check_pass", "checking", "closed", "wang"),
            ],
        )
        self.assertEqual(
            sorted(case.photos.values_list("kind", flat=True)), ["after", "before", "check"]
        )
        self.assertEqual(case.version, 6)

    def test_a_hotline_report_is_verified_on_site_first(self):
        case = self.case_in(Stage.VERIFYING)
        self.assertEqual(case.field_worker, self.wang)
        perform(case, "verify_confirm", self.wang)
        self.assertEqual(case.stage, Stage.REPORTED)
        self.assertIsNone(case.field_worker)

    def test_a_report_not_found_on_site_is_not_accepted(self):
        case = self.case_in(Stage.VERIFYING)
        perform(case, "verify_reject", self.wang, reason="现场未发现垃圾")
        self.assertEqual(case.stage, Stage.NOT_ACCEPTED)
        self.assertFalse(case.is_open)

    def test_the_centre_may_refuse_a_report(self):
        case = self.case_in(Stage.REPORTED)
        with self.assertRaises(InvalidInput) as refused:
            perform(case, "not_accept", self.li)
        self.assertEqual(refused.exception.field, "reason")
        perform(case, "not_accept", self.li, reason="不属于城市管理范围")
        self.assertEqual(case.stage, Stage.NOT_ACCEPTED)

    def test_a_failed_check_sends_the_case_back_to_the_same_department(self):
        case = self.case_in(Stage.CHECKING)
        perform(case, "check_fail", self.wang, reason="垃圾仍在", photos=[photo()])
        self.assertEqual(
            (case.stage, case.department, case.rework_count), (Stage.DISPATCHED, self.sanitation, 1)
        )
        perform(case, "accept", self.chen)
        perform(case, "report_done", self.chen, photos=[photo()])
        perform(case, "check_pass", self.wang, photos=[photo()])
        self.assertEqual(case.stage, Stage.CLOSED)

    def test_a_wrong_department_returns_the_case_for_redispatch(self):
        case = self.case_in(Stage.IN_PROGRESS)
        perform(case, "request_return", self.chen, reason="属园林部门管辖")
        self.assertEqual(case.stage, Stage.IN_PROGRESS)
        perform(case, "approve_return", self.li)
        self.assertEqual((case.stage, case.department, case.return_count), (Stage.FILED, None, 1))
        perform(case, "dispatch", self.li, data={"department": self.landscaping.pk})
        perform(case, "accept", self.sun)
        self.assertEqual(case.stage, Stage.IN_PROGRESS)
        request = CaseRequest.objects.get(case=case)
        self.assertEqual((request.status, request.decided_by), ("approved", self.li))

    def test_a_refused_return_leaves_the_case_with_the_department(self):
        case = self.case_in(Stage.IN_PROGRESS)
        perform(case, "request_return", self.chen, reason="属园林部门管辖")
        with self.assertRaisesMessage(NotAllowed, "already waiting"):
            perform(case, "request_return", self.chen, reason="again")
        perform(case, "reject_return", self.li, reason="人行道保洁属环卫")
        self.assertEqual((case.stage, case.department), (Stage.IN_PROGRESS, self.sanitation))

    def test_an_approved_extension_moves_the_deadline(self):
        case = self.case_in(Stage.IN_PROGRESS)
        before = case.deadline
        with self.assertRaises(InvalidInput) as refused:
            perform(case, "request_extension", self.chen, reason="需调配车辆", data={"hours": "-3"})
        self.assertEqual(refused.exception.field, "hours")
        perform(case, "request_extension", self.chen, reason="需调配车辆", data={"hours": "8"})
        self.assertEqual(case.deadline, before)
        perform(case, "approve_extension", self.li)
        self.assertGreater(case.deadline, before)
        event = case.events.get(action="approve_extension")
        self.assertEqual(event.payload["deadline"], case.deadline.isoformat())

    def test_hold_and_resume(self):
        case = self.case_in(Stage.ON_HOLD)
        self.assertFalse(any(t.action == "report_done" for t in allowed_actions(case, self.chen)))
        perform(case, "resume", self.li, reason="产权单位已确认")
        self.assertEqual(case.stage, Stage.IN_PROGRESS)
        self.assertEqual(
            list(
                case.events.filter(action__in=["approve_hold", "resume"]).values_list(
                    "to_stage", flat=True
                )
            ),
            ["on_hold", "in_progress"],
        )

    def test_void_needs_the_shift_leaders_approval(self):
        case = self.case_in(Stage.DISPATCHED)
        perform(case, "request_void", self.li, reason="重复上报")
        self.assertEqual(case.stage, Stage.DISPATCHED)
        perform(case, "approve_void", self.zhao)
        self.assertEqual(case.stage, Stage.VOIDED)
        self.assertIsNotNone(case.closed_at)

    def test_self_handled_cases_are_audited(self):
        kept = self.case_in(Stage.SELF_HANDLED)
        perform(kept, "approve_self", self.zhao)
        self.assertEqual(kept.stage, Stage.ARCHIVED)
        invalid = self.case_in(Stage.SELF_HANDLED)
        perform(invalid, "invalidate_self", self.li, reason="照片与描述不符")
        self.assertEqual(invalid.stage, Stage.INVALID)

    def test_supervision_orders_escalate_normal_yellow_red(self):
        case = self.case_in(Stage.IN_PROGRESS)
        for level in (Supervision.NORMAL, Supervision.YELLOW, Supervision.RED):
            perform(case, "supervise", self.zhou, reason="超期未处置", data={"level": int(level)})
            self.assertEqual(case.supervision, level)
        self.assertEqual(case.stage, Stage.IN_PROGRESS)
        self.assertEqual(case.events.filter(action="supervise").count(), 3)

    def test_a_duplicate_is_merged_and_its_reporter_kept(self):
        first = self.case_in(Stage.FILED)
        second = self.report(
            source=Source.HOTLINE,
            reporter=self.li,
            citizen_name="李四",
            citizen_phone="13900000000",
        )
        perform(second, "merge", self.li, reason="同一堆垃圾", data={"into": first.pk})
        self.assertEqual((second.stage, second.merged_into), (Stage.MERGED, first))
        reporters = CaseReporter.objects.filter(case=first)
        self.assertEqual(sorted(r.citizen_name for r in reporters), ["", "李四"])
        self.assertTrue(first.events.filter(action="absorb").exists())

    def test_a_second_reporter_can_join_instead_of_filing(self):
        case = self.case_in(Stage.FILED)
        perform(case, "join", self.qian, photos=[photo()])
        self.assertTrue(case.reporters.filter(user=self.qian).exists())
        with self.assertRaisesMessage(NotAllowed, "already reported"):
            perform(case, "join", self.qian)

    def test_dispatch_needs_a_department(self):
        case = self.case_in(Stage.FILED)
        with self.assertRaises(InvalidInput) as refused:
            perform(case, "dispatch", self.li, data={})
        self.assertEqual(refused.exception.field, "department")
        self.assertEqual(case.stage, Stage.FILED)
        self.assertEqual(case.events.count(), 2)

    def test_report_done_needs_an_after_photo(self):
        case = self.case_in(Stage.IN_PROGRESS)
        with self.assertRaisesMessage(InvalidInput, "Add at least one photo"):
            perform(case, "report_done", self.chen)
        self.assertEqual(case.stage, Stage.IN_PROGRESS)
        self.assertFalse(Photo.objects.filter(case=case, kind="after").exists())

    def test_an_action_on_an_old_version_is_refused(self):
        case = self.case_in(Stage.DISPATCHED)
        seen = case.version
        perform(case, "accept", self.chen, version=seen)
        with self.assertRaisesMessage(CaseChanged, "This case changed"):
            perform(case, "request_return", self.chen, version=seen, reason="x")
        self.assertEqual(case.events.filter(action="request_return").count(), 0)

    def test_case_events_cannot_be_changed_through_the_model(self):
        case = self.case_in(Stage.REPORTED)
        event = case.events.get()
        event.reason = "rewritten"
        with self.assertRaises(ValueError):
            event.save()
        with self.assertRaises(ValueError):
            event.delete()


# Who may take each action (worked out from DOMAIN.md §2-§3, not read from the table).
ALLOWED = {
    "verify_confirm": {"wang"},
    "verify_reject": {"wang"},
    "file": {"li", "zhao"},
    "not_accept": {"li", "zhao"},
    "dispatch": {"li", "gridgov-router"},
    "route_none": {"gridgov-router"},
    "merge": {"li", "zhao"},
    "accept": {"chen"},
    "report_done": {"chen"},
    "check_pass": {"wang"},
    "check_fail": {"wang"},
    "request_return": {"chen"},
    "approve_return": {"li"},
    "reject_return": {"li"},
    "request_extension": {"chen"},
    "approve_extension": {"li"},
    "reject_extension": {"li"},
    "request_hold": {"chen"},
    "approve_hold": {"li"},
    "reject_hold": {"li"},
    "resume": {"li"},
    "request_void": {"li", "chen"},
    "approve_void": {"zhao"},
    "reject_void": {"zhao"},
    "approve_self": {"li", "zhao"},
    "invalidate_self": {"li", "zhao"},
    "supervise": {"zhou", "gridgov-router"},
    "join": {"qian", "li"},
}
# A request that must be pending before a decision, made by the department or the centre.
NEEDS_PENDING = {
    "approve_return": ("request_return", "chen"),
    "reject_return": ("request_return", "chen"),
    "approve_extension": ("request_extension", "chen"),
    "reject_extension": ("request_extension", "chen"),
    "approve_hold": ("request_hold", "chen"),
    "reject_hold": ("request_hold", "chen"),
    "approve_void": ("request_void", "li"),
    "reject_void": ("request_void", "li"),
}


class PermissionTestCase(CaseTestCase):
    def inputs(self, action, case):
        return {
            "reason": "原因",
            "data": {
                "department": self.sanitation.pk,
                "hours": "4",
                "level": 1,
                "into": self.case_in("filed").pk if action == "merge" else None,
            },
            "photos": [photo()],
        }

    def test_every_action_is_refused_to_every_role_that_may_not_take_it(self):
        self.assertEqual(set(ALLOWED), {t.action for t in TRANSITIONS})
        from cases.routing import router

        people = [
            router(),
            self.wang,
            self.li,
            self.zhao,
            self.chen,
            self.zhou,
            self.ada,
            self.nobody,
            self.qian,
            self.sun,
        ]
        for transition in TRANSITIONS:
            stage = sorted(transition.sources)[0]
            for person in people:
                allowed = person.username in ALLOWED[transition.action]
                with self.subTest(action=transition.action, stage=stage, person=person.username):
                    case = self.case_in(stage)
                    if transition.action in NEEDS_PENDING:
                        request, by = NEEDS_PENDING[transition.action]
                        perform(
                            case, request, getattr(self, by), reason="申请", data={"hours": "4"}
                        )
                    kwargs = self.inputs(transition.action, case)
                    events = CaseEvent.objects.count()
                    offered = transition in allowed_actions(case, person)
                    if allowed:
                        self.assertTrue(offered)
                        event = perform(case, transition.action, person, **kwargs)
                        self.assertEqual((event.actor, event.from_stage), (person, stage))
                        self.assertEqual(
                            CaseEvent.objects.count(), events + 1 + (transition.action == "merge")
                        )
                    else:
                        self.assertFalse(offered)
                        with self.assertRaises(NotAllowed):
                            perform(
                                case,
                                transition.action,
                                person,
                                **kwargs,
                            )
                        self.assertEqual(CaseEvent.objects.count(), events)
                        case.refresh_from_db()
                        self.assertEqual(case.stage, stage)

    def test_an_action_from_the_wrong_stage_is_refused_with_a_clear_message(self):
        case = self.case_in(Stage.REPORTED)
        with self.assertRaisesMessage(NotAllowed, "is not possible while the case is"):
            perform(case, "accept", self.chen)


class PhotoInputTestCase(CaseTestCase):
    def test_validation_error_type(self):
        from django.core.files.uploadedfile import SimpleUploadedFile

        from cases.photos import process_photo

        with self.assertRaises(ValidationError):
            process_photo(SimpleUploadedFile("notes.txt", b"not an image"))
