from django.urls import reverse

from cases.models import Category, RoutingRule, Urgency
from cases.routing import case_route
from cases.workflow import perform
from grids.models import Area
from tests.cases.base import CaseTestCase


class WhyDepartmentTestCase(CaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.rule_urgent = RoutingRule.objects.create(
            name="紧急案件", priority=10, urgency=Urgency.URGENT, department=cls.centre
        )
        cls.rule_street = RoutingRule.objects.create(
            name="街道市容",
            priority=50,
            category=Category.objects.get(full_code="E01"),
            area=Area.objects.get(code="110101001"),
            department=cls.sanitation,
        )

    def filed(self, **overrides):
        case = self.report(**overrides)
        perform(case, "file", self.li)
        return case

    def page(self, case, person=None):
        self.client.force_login(person or self.li)
        response = self.client.get(
            reverse("cases:detail", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertEqual(response.status_code, 200)
        return response

    def test_it_names_the_rule_that_decided(self):
        case = self.filed()
        case_route(case.pk)
        response = self.page(case)
        why = response.context["why_department"]
        self.assertEqual(
            (why.kind, why.rule, why.rule_name), ("rule", self.rule_street, "街道市容")
        )
        self.assertContains(response, 'data-kind="rule"')
        self.assertContains(response, "Routing rule “街道市容” decided")
        self.assertContains(response, '<span class="rule-priority">50</span>', html=True)
        self.assertContains(response, "category E01 and below, in Street 东华门街道")
        # The urgent-cases rule was tried first and did not apply.
        self.assertContains(response, "1 rule did not apply")
        self.assertContains(response, "紧急案件: urgency is not Urgent")

    def test_it_says_when_a_dispatcher_chose_by_hand(self):
        case = self.filed()
        perform(
            case, "dispatch", self.li, data={"department": self.sanitation.pk}, reason="熟悉该路段"
        )
        response = self.page(case, self.chen)
        why = response.context["why_department"]
        self.assertEqual((why.kind, why.after_no_rule), ("hand", False))
        self.assertContains(response, "chosen by hand by 李军")
        self.assertContains(response, "熟悉该路段")
        self.assertNotContains(response, "No routing rule matched")

    def test_it_says_when_no_rule_matched(self):
        case = self.filed(category=Category.objects.get(full_code="C0101"))
        case_route(case.pk)
        response = self.page(case)
        self.assertEqual(response.context["why_department"].kind, "none")
        self.assertContains(response, "No routing rule matched: the case waits for a dispatcher")
        # The rules that could have applied to a C0101 case: the urgent-cases one; the
        # street's rule for E01 is not listed.
        self.assertContains(response, "1 rule did not apply")
        self.assertContains(response, "紧急案件: urgency is not Urgent")
        self.assertNotContains(response, "街道市容")
        # Then a dispatcher chooses.
        perform(case, "dispatch", self.li, data={"department": self.sanitation.pk})
        response = self.page(case)
        self.assertEqual(response.context["why_department"].kind, "hand")
        self.assertContains(response, "No routing rule matched, chosen by hand by 李军")

    def test_it_keeps_the_rules_name_after_the_rule_is_gone(self):
        case = self.filed()
        case_route(case.pk)
        self.rule_street.delete()
        response = self.page(case)
        self.assertContains(response, "Routing rule “街道市容” decided")
        self.assertContains(response, "The rule has been deleted since.")

    def test_before_routing_it_says_routing_has_not_run(self):
        case = self.filed()
        self.assertEqual(self.page(case).context["why_department"].kind, "waiting")
        self.assertIsNone(self.page(self.report()).context["why_department"])

    def test_only_dispatchers_and_administrators_get_the_link_to_the_rules(self):
        case = self.filed()
        case_route(case.pk)
        check = reverse("cases:routing") + "?lon="
        self.assertContains(self.page(case, self.li), check)
        self.assertContains(self.page(case, self.ada), check)
        for person in (self.chen, self.zhou, self.zhao):
            with self.subTest(person=person.username):
                self.assertNotContains(self.page(case, person), check)
