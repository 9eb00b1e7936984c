"""The wire formats and input rules on their own, without a database."""

import datetime
from xml.etree import ElementTree

from django.test import SimpleTestCase
from django.utils import timezone

from open311.formats import parse_when, to_json, to_xml, w3c
from open311.services import Open311Error, ReportInput, _answers

UTC = datetime.UTC


class DatesTestCase(SimpleTestCase):
    def test_it_reads_every_form_clients_send(self):
        moment = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        for text in (
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05.000Z",
            "2026-01-02T11:04:05+08:00",
            "2026-01-02T11:04:05+0800",
            "2026-01-02T11:04:05 08:00",  # a + that arrived as a space
            "2026-01-01T22:04:05-05:00",
            "2026-01-02 11:04:05",  # naive, in the server's zone (Asia/Shanghai)
            " 2026-01-02T03:04:05Z ",
        ):
            with self.subTest(text=text):
                self.assertEqual(parse_when(text), moment)

    def test_a_date_alone_is_its_start_or_with_end_its_whole_day(self):
        start = parse_when("2026-01-02")
        self.assertEqual(timezone.localtime(start).isoformat(), "2026-01-02T00:00:00+08:00")
        end = parse_when("2026-01-02", end=True)
        self.assertEqual(timezone.localtime(end).isoformat(), "2026-01-03T00:00:00+08:00")

    def test_it_refuses_what_is_not_a_date(self):
        for text in ("", "yesterday", "2026-13-01", "2026-02-30", "2026-01-02T25:00:00Z", "1e9"):
            with self.subTest(text=text):
                self.assertIsNone(parse_when(text))

    def test_it_writes_utc_seconds_with_a_z(self):
        local = datetime.datetime(
            2026, 1, 2, 11, 4, 5, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=8))
        )
        self.assertEqual(w3c(local), "2026-01-02T03:04:05Z")
        self.assertIsNone(w3c(None))


class RenderTestCase(SimpleTestCase):
    def test_xml_names_items_by_their_container(self):
        body = to_xml(
            "service_requests",
            [{"service_request_id": "7", "notes": [{"summary": "a"}], "media_urls": ["u"]}],
        )
        self.assertTrue(body.startswith('<?xml version="1.0" encoding="utf-8"?>\n'))
        root = ElementTree.fromstring(body)
        self.assertEqual(root.find("request/notes/note/summary").text, "a")
        self.assertEqual(root.find("request/media_urls/media_url").text, "u")

    def test_xml_writes_booleans_lowercase_and_null_as_an_empty_element(self):
        root = ElementTree.fromstring(to_xml("x", {"a": True, "b": False, "c": None, "d": 1.5}))
        self.assertEqual([e.text for e in root], ["true", "false", None, "1.5"])

    def test_xml_escapes_text(self):
        root = ElementTree.fromstring(to_xml("x", {"d": "<b>&\"'</b> 井盖"}))
        self.assertEqual(root.find("d").text, "<b>&\"'</b> 井盖")

    def test_json_keeps_utf8_and_writes_datetimes_in_w3c(self):
        moment = datetime.datetime(2026, 1, 2, 3, 4, 5, 999, tzinfo=UTC)
        self.assertEqual(
            to_json({"n": "井盖", "t": moment}), '{"n": "井盖", "t": "2026-01-02T03:04:05Z"}'
        )


class AttributesTestCase(SimpleTestCase):
    DEFINITION = [
        {"code": "SIZE", "required": True, "datatype": "string", "values": []},
        {
            "code": "KIND",
            "required": False,
            "datatype": "multivaluelist",
            "values": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}],
        },
    ]

    def answers(self, **values):
        return _answers(
            ReportInput(values={k: list(v) for k, v in values.items()}), self.DEFINITION
        )

    def test_a_missing_required_attribute_is_400_naming_it(self):
        with self.assertRaises(Open311Error) as refused:
            self.answers()
        self.assertEqual(refused.exception.status, 400)
        self.assertEqual(refused.exception.descriptions, ["attribute SIZE required"])

    def test_a_multivaluelist_takes_the_repeated_list_key(self):
        answers = self.answers(**{"attribute[SIZE]": ["big"], "attribute[KIND][]": ["a", "b"]})
        self.assertEqual(answers, {"SIZE": "big", "KIND": ["a", "b"]})

    def test_an_empty_value_is_no_answer(self):
        with self.assertRaises(Open311Error):
            self.answers(**{"attribute[SIZE]": [" "]})
