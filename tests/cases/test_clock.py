import datetime
from zoneinfo import ZoneInfo

from django.test import TestCase

from cases.calendar_seed import STANDARD_PERIODS
from cases.clock import Calendar, calendar_for, limit_to_deadline
from cases.models import CalendarDay, DepartmentPolicy, LimitUnit, WorkingCalendar
from org.models import Department

BEIJING = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def at(year, month, day, hour, minute=0, zone=BEIJING):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=zone)


class BusinessTimeTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.calendar = calendar_for()

    def test_the_seeded_calendar_knows_holidays_and_make_up_days(self):
        # 2026: New Year's holiday Jan 1-3 (Thu-Sat), Sunday Jan 4 is a make-up working day.
        self.assertFalse(self.calendar.is_working_day(datetime.date(2026, 1, 2)))
        self.assertTrue(self.calendar.is_working_day(datetime.date(2026, 1, 4)))
        self.assertFalse(self.calendar.is_working_day(datetime.date(2026, 10, 1)))
        self.assertTrue(self.calendar.is_working_day(datetime.date(2026, 11, 23)))
        # 2027 holidays are seeded too (make-up days are published later in the year).
        self.assertFalse(self.calendar.is_working_day(datetime.date(2027, 10, 1)))

    def test_a_deadline_crosses_the_weekend(self):
        # Friday 16:00 + 4 working hours: 1.5 h on Friday, 2.5 h on Monday from 08:30.
        friday = at(2026, 11, 20, 16)
        due = limit_to_deadline(friday, 4, LimitUnit.WORKING_HOURS, self.calendar)
        self.assertEqual(due.astimezone(BEIJING), at(2026, 11, 23, 11))

    def test_a_deadline_skips_the_lunch_break(self):
        due = self.calendar.add(at(2026, 11, 23, 11), datetime.timedelta(hours=2))
        self.assertEqual(due.astimezone(BEIJING), at(2026, 11, 23, 14, 30))

    def test_a_deadline_skips_the_national_day_week(self):
        # Wednesday 30 Sep 2026 17:00 + 1 working day (7.5 h): half an hour that day, then
        # Oct 1-7 are holidays and the rest falls on Thursday 8 Oct until 17:00.
        due = limit_to_deadline(at(2026, 9, 30, 17), 1, LimitUnit.WORKING_DAYS, self.calendar)
        self.assertEqual(due.astimezone(BEIJING), at(2026, 10, 8, 17))
        # Saturday 10 Oct is a make-up working day.
        self.assertTrue(self.calendar.is_working_day(datetime.date(2026, 10, 10)))

    def test_a_make_up_sunday_counts_as_a_working_day(self):
        # Saturday 3 Jan 2026 (holiday) at 09:00 + 1 working hour: Sunday 4 Jan 09:30.
        due = self.calendar.add(at(2026, 1, 3, 9), datetime.timedelta(hours=1))
        self.assertEqual(due.astimezone(BEIJING), at(2026, 1, 4, 9, 30))

    def test_clock_hours_and_calendar_days_ignore_the_calendar(self):
        start = at(2026, 10, 1, 10)
        self.assertEqual(
            limit_to_deadline(start, 2, LimitUnit.URGENT_HOURS, self.calendar),
            start + datetime.timedelta(hours=2),
        )
        self.assertEqual(
            limit_to_deadline(start, 3, LimitUnit.CALENDAR_DAYS, self.calendar),
            start + datetime.timedelta(days=3),
        )

    def test_working_time_between_two_moments(self):
        self.assertEqual(
            self.calendar.between(at(2026, 11, 20, 16), at(2026, 11, 23, 11)),
            datetime.timedelta(hours=4),
        )
        self.assertEqual(
            self.calendar.between(at(2026, 11, 23, 12), at(2026, 11, 23, 13)), datetime.timedelta()
        )

    def test_a_closure_of_one_calendar_does_not_close_the_others(self):
        own = WorkingCalendar.objects.create(name="环卫", periods=STANDARD_PERIODS)
        CalendarDay.objects.create(
            calendar=own, day=datetime.date(2026, 11, 24), kind="closure", name="停电"
        )
        department = Department.objects.create(code="sanitation", name="环卫", kind="functional")
        DepartmentPolicy.objects.create(department=department, calendar=own)
        self.assertFalse(calendar_for(department).is_working_day(datetime.date(2026, 11, 24)))
        self.assertTrue(calendar_for().is_working_day(datetime.date(2026, 11, 24)))
        self.assertFalse(calendar_for(department).is_working_day(datetime.date(2026, 10, 1)))

    def test_a_round_the_clock_calendar(self):
        periods = {str(d): [["00:00", "23:59:59.999999"]] for d in range(7)}
        always = Calendar.from_model(
            WorkingCalendar(name="24h", periods=periods, follows_national=False)
        )
        self.assertTrue(always.is_working_day(datetime.date(2026, 10, 1)))


class DaylightSavingTestCase(TestCase):
    """A calendar in a zone with DST: 09:00-17:00 local stays 09:00-17:00 local."""

    def setUp(self):
        periods = {str(d): [["09:00", "17:00"]] if d < 5 else [] for d in range(7)}
        self.calendar = Calendar.from_model(
            WorkingCalendar(
                name="Berlin", time_zone="Europe/Berlin", periods=periods, follows_national=False
            )
        )

    def test_spring_forward(self):
        # Clocks go forward on Sunday 29 March 2026. Friday 15:00 + 4 h = Monday 11:00 local.
        due = self.calendar.add(at(2026, 3, 27, 15, zone=BERLIN), datetime.timedelta(hours=4))
        self.assertEqual(due.astimezone(BERLIN), at(2026, 3, 30, 11, zone=BERLIN))
        self.assertEqual(due.utcoffset(), datetime.timedelta(0))
        self.assertEqual(due, datetime.datetime(2026, 3, 30, 9, 0, tzinfo=datetime.UTC))

    def test_fall_back(self):
        # Clocks go back on Sunday 25 October 2026. Friday 16:00 + 2 h = Monday 10:00 local.
        due = self.calendar.add(at(2026, 10, 23, 16, zone=BERLIN), datetime.timedelta(hours=2))
        self.assertEqual(due.astimezone(BERLIN), at(2026, 10, 26, 10, zone=BERLIN))
        self.assertEqual(due, datetime.datetime(2026, 10, 26, 9, 0, tzinfo=datetime.UTC))
