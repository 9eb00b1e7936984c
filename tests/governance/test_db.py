"""Rows of several models written together (``governance.db.insert_together``), statements
whose commit does not wait for the disk (``execute_unflushed``), version tokens."""

import datetime
import unittest
from decimal import Decimal

from django.contrib.gis.geos import Point
from django.db import connection
from django.test import TestCase
from django.utils import timezone

from cases.models import Case, CaseEvent, CaseReporter, Source, Stage
from clocks.models import Clock, ClockStep, EscalationStep, RulesVersion
from governance.db import (
    delete_rows,
    execute_unflushed,
    insert_rows,
    insert_together,
    unsaved,
    version_token,
)
from maps.models import MapVersion
from stats.models import CaseFact, DailyFact
from tests.base import run_apart
from tests.cases.base import CaseTestCase

POINT = Point(116.40051234567891, 39.91051234567891, srid=4326)


class InsertTogetherTestCase(CaseTestCase):
    def setUp(self):
        super().setUp()
        # One moment for every row of a test: rows built on either side of a second's turn
        # once differed in every time they held.
        self.now = timezone.now().replace(microsecond=123456)

    def rows(self, description: str) -> list:
        """A case, its reporter, two events, two clocks and their steps: geometry, JSON,
        intervals, decimals and times to the microsecond; keys to rows written with them
        (the case, the clocks) and to rows that exist (people, the category, steps)."""
        now = self.now
        ladder = list(EscalationStep.objects.order_by("level")[:2])
        case = Case(
            source=Source.PATROL,
            reporter=self.wang,
            point=POINT,
            grid=self.grids[0],
            community=self.community,
            category=self.category,
            description=description,
            stage=Stage.REPORTED,
            address="东华门大街 1 号",
            reported_at=now,
        )
        clocks = [
            Clock(
                case=case,
                kind=kind,
                seq=1,
                state=Clock.State.RUNNING,
                limit_value=Decimal("0.50") if kind == "dispatch" else Decimal("4.00"),
                limit_unit="working_hours",
                allowed=datetime.timedelta(hours=4, microseconds=7),
                used=datetime.timedelta(days=1, seconds=5),
                running_since=now,
                started_at=now,
                deadline=now + datetime.timedelta(hours=4),
                warn_at=now + datetime.timedelta(hours=3),
            )
            for kind in ("dispatch", "case")
        ]
        return [
            case,
            CaseReporter(case=case, user=self.wang, source=Source.PATROL, joined_at=now),
            CaseEvent(
                case=case,
                actor=self.wang,
                action="report",
                from_stage="",
                to_stage=Stage.REPORTED,
                at=now,
                payload={"grid": self.grids[0].code, "nested": {"list": [1, "二", None]}},
            ),
            CaseEvent(case=case, actor=self.li, action="note", to_stage=Stage.REPORTED, at=now),
            *clocks,
            ClockStep(clock=clocks[1], step=ladder[0], deadline_version=1, fire_at=now),
            ClockStep(clock=clocks[0], step=ladder[1], deadline_version=1, fire_at=now),
        ]

    @staticmethod
    def stored(rows: list) -> list:
        """Each row as read back, without keys; a key to another row of the same write as
        that row's place in it."""
        place = {(type(obj), obj.pk): i for i, obj in enumerate(rows)}
        read = []
        for obj in rows:
            values = type(obj).objects.filter(pk=obj.pk).values().get()
            values.pop("id")
            for field in type(obj)._meta.concrete_fields:
                if field.is_relation and (field.related_model, values[field.attname]) in place:
                    values[field.attname] = (
                        "row",
                        place[field.related_model, values[field.attname]],
                    )
            values.pop("computed_at", None)  # auto_now: when written
            read.append((type(obj).__name__, values))
        return read

    def test_it_stores_what_bulk_create_stores(self):
        together = self.rows("写在一起")
        insert_together(together)
        one_by_one = self.rows("写在一起")
        for obj in one_by_one:
            type(obj).objects.bulk_create([obj])
        self.assertEqual(self.stored(together), self.stored(one_by_one))
        self.assertEqual(Case.objects.get(pk=together[0].pk).point.coords, POINT.coords)

    def test_a_point_in_another_reference_system_is_stored_in_the_columns_one(self):
        together = self.rows("投影坐标")
        together[0].point = POINT.transform(4548, clone=True)  # CGCS2000 / 3-degree GK
        insert_together(together)
        one_by_one = self.rows("投影坐标")
        one_by_one[0].point = POINT.transform(4548, clone=True)
        Case.objects.bulk_create([one_by_one[0]])
        stored = [Case.objects.get(pk=rows[0].pk).point for rows in (together, one_by_one)]
        self.assertEqual({p.srid for p in stored}, {4326})
        for a, b in zip(stored[0].coords, stored[1].coords, strict=True):
            self.assertAlmostEqual(a, b, places=9)
        for a, b in zip(stored[0].coords, POINT.coords, strict=True):
            self.assertAlmostEqual(a, b, places=7)

    def test_it_sets_the_keys_and_keeps_the_parents_in_hand(self):
        rows = self.rows("键")
        insert_together(rows)
        case, reporter, report, note, dispatch, whole, step1, step2 = rows
        self.assertTrue(all(obj.pk and not obj._state.adding for obj in rows))
        with self.assertNumQueries(0):
            self.assertIs(report.case, case)
            self.assertIs(step1.clock, whole)
        self.assertEqual(
            (reporter.case_id, note.case_id, step2.clock_id), (case.pk,) * 2 + (dispatch.pk,)
        )
        # Keys in the order the rows were given.
        self.assertLess(report.pk, note.pk)
        self.assertLess(dispatch.pk, whole.pk)
        self.assertEqual(
            list(CaseEvent.objects.filter(case=case).values_list("action", flat=True)),
            ["report", "note"],
        )

    @unittest.skipUnless(connection.vendor == "postgresql", "one statement on PostgreSQL")
    def test_on_postgresql_it_is_one_statement(self):
        rows = self.rows("一条语句")
        with self.assertNumQueries(1):
            insert_together(rows)

    def test_it_refuses_rows_already_written(self):
        rows = self.rows("已有")
        insert_together(rows)
        with self.assertRaises(ValueError):
            insert_together([rows[0]])

    def test_a_write_of_another_shape_gets_its_own_statement(self):
        first = self.rows("形状一")
        insert_together(first)
        second = self.rows("形状二")
        extra = CaseEvent(case=second[0], actor=self.li, action="note", to_stage=Stage.REPORTED)
        second.insert(4, extra)
        insert_together(second)
        self.assertEqual(CaseEvent.objects.filter(case=first[0]).count(), 2)
        self.assertEqual(
            list(
                CaseEvent.objects.filter(case=second[0])
                .order_by("pk")
                .values_list("action", flat=True)
            ),
            ["report", "note", "note"],
        )
        self.assertEqual(ClockStep.objects.filter(clock__case=second[0]).count(), 2)

    def test_unsaved_builds_what_the_keyword_form_builds(self):
        values = {
            "source": Source.PATROL,
            "reporter": self.wang,
            "point": POINT,
            "grid": self.grids[0],
            "community_id": self.community.pk,
            "category": self.category,
            "description": "同样",
            "stage": Stage.REPORTED,
            "reported_at": timezone.now(),
        }
        fields = Case._meta.concrete_fields
        by_keywords, by_place = Case(**values), unsaved(Case, **values)
        self.assertEqual(
            [f.value_from_object(by_place) for f in fields],
            [f.value_from_object(by_keywords) for f in fields],
        )
        self.assertTrue(by_place._state.adding)
        with self.assertNumQueries(0):
            self.assertIs(by_place.reporter, self.wang)
            self.assertIs(by_place.category, self.category)
        # A parent not written yet: no key, kept in hand (insert_together writes both).
        event = unsaved(CaseEvent, case=by_place, actor=self.wang, action="report")
        self.assertIsNone(event.case_id)
        self.assertIs(event.case, by_place)
        self.assertIsNotNone(event.at)  # the field's default
        with self.assertRaises(TypeError):
            unsaved(Case, description="x", colour="red")

    def test_the_version_token_is_empty_until_the_first_change(self):
        RulesVersion.objects.all().delete()
        self.assertEqual(version_token(RulesVersion), "")
        RulesVersion.objects.create(pk=1, token="abc")
        self.assertEqual(version_token(RulesVersion), "abc")


class RowsTestCase(TestCase):
    """``insert_rows`` (COPY on PostgreSQL, executemany elsewhere) and ``delete_rows``."""

    def facts(self, first_id: int) -> list[CaseFact]:
        at = datetime.datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=datetime.UTC)
        return [
            CaseFact(
                case_id=first_id + n,
                district=110101,
                category=n,
                source="patrol",
                stage=Stage.CLOSED if n else Stage.FILED,
                reported_at=at + datetime.timedelta(hours=n),
                closed_at=at + datetime.timedelta(days=2) if n else None,
                on_time=[None, True, False][n],
                work_seconds=2**40 + n,
                counts={"退回": n, "nested": {"list": [1, "二"]}},
                events=n,
            )
            for n in range(3)
        ]

    def stored(self, model, pks) -> list[dict]:
        rows = model.objects.filter(pk__in=pks).order_by("pk").values()
        return [{k: v for k, v in row.items() if k not in ("id", "case_id")} for row in rows]

    def test_it_stores_what_bulk_create_stores(self):
        insert_rows(CaseFact, self.facts(100))
        CaseFact.objects.bulk_create(self.facts(200))
        written = self.stored(CaseFact, [100, 101, 102])
        self.assertEqual(written, self.stored(CaseFact, [200, 201, 202]))
        self.assertEqual(written[1]["counts"], {"退回": 1, "nested": {"list": [1, "二"]}})
        self.assertEqual(written[0]["reported_at"].microsecond, 123456)

        day = datetime.date(2026, 3, 1)
        insert_rows(
            DailyFact, [DailyFact(day=day, level=0, reported=5), DailyFact(day=day, level=1)]
        )
        rows = DailyFact.objects.order_by("level")
        self.assertEqual([(r.day, r.level, r.reported) for r in rows], [(day, 0, 5), (day, 1, 0)])
        self.assertEqual(len({r.pk for r in rows}), 2)

    def test_it_writes_in_batches(self):
        insert_rows(CaseFact, self.facts(300), batch=2)
        self.assertEqual(CaseFact.objects.filter(case_id__in=[300, 301, 302]).count(), 3)

    def test_with_keys_it_writes_the_objects_own_keys(self):
        day = datetime.date(2026, 3, 2)
        insert_rows(DailyFact, [DailyFact(pk=7001, day=day, level=2, filed=3)], keys=True)
        self.assertEqual(DailyFact.objects.get(pk=7001).filed, 3)

    def test_delete_rows_deletes_exactly_the_keys_given(self):
        insert_rows(CaseFact, self.facts(400) + self.facts(500))
        delete_rows(CaseFact, [])
        delete_rows(CaseFact, [400, 402, 501, 999], batch=2)
        self.assertEqual(
            sorted(CaseFact.objects.values_list("case_id", flat=True)), [401, 500, 502]
        )


class UnflushedTestCase(TestCase):
    def test_inside_a_transaction_it_is_a_plain_statement(self):
        table = MapVersion._meta.db_table
        execute_unflushed(
            f"INSERT INTO {table} (id, value) VALUES (1, 41)"
            f" ON CONFLICT (id) DO UPDATE SET value = 41"
        )
        rows = execute_unflushed(
            f"UPDATE {table} SET value = value + 1 WHERE id = 1 RETURNING value", returning=True
        )
        self.assertEqual(rows, [(42,)])

    @unittest.skipUnless(connection.vendor == "postgresql", "PostgreSQL only")
    def test_outside_a_transaction_the_commit_does_not_wait_for_the_disk(self):
        # Run apart, in autocommit. Right after a commit that waited for the disk the log
        # is flushed as far as it was written; after one that did not, it is not yet.
        script = (
            "from django.db import connection\n"
            "from governance.db import execute_unflushed\n"
            "def lagging():\n"
            "    with connection.cursor() as c:\n"
            "        c.execute('SELECT pg_current_wal_insert_lsn() > pg_current_wal_flush_lsn()')\n"
            "        return c.fetchone()[0]\n"
            "sql = 'INSERT INTO maps_mapversion (id, value) VALUES (1, 1)"
            " ON CONFLICT (id) DO UPDATE SET value = maps_mapversion.value + 1'\n"
            "counts = []\n"
            "for unflushed in (False, True):\n"
            "    n = 0\n"
            "    for _ in range(20):\n"
            "        if unflushed:\n"
            "            execute_unflushed(sql)\n"
            "        else:\n"
            "            with connection.cursor() as c:\n"
            "                c.execute(sql)\n"
            "        n += lagging()\n"
            "    counts.append(n)\n"
            "with connection.cursor() as c:\n"
            "    c.execute('SHOW synchronous_commit')\n"
            "    setting = c.fetchone()[0]\n"
            "print(*counts, setting)\n"
        )
        result = run_apart(script)
        self.assertEqual(result.returncode, 0, result.stderr)
        plain, unflushed, setting = result.stdout.split()
        # Another process writing at the same moment may leave a plain commit's log
        # unflushed now and then; not 15 times in 20.
        self.assertLessEqual(int(plain), 5)
        self.assertGreaterEqual(int(unflushed), 15)
        self.assertEqual(setting, "on")  # the setting ended with its statement
