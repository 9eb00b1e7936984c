"""China's national working calendar, 2024-2027: public holidays and make-up working days.

2024-2026 come from ``chinese_calendar``, which follows the State Council's notices
(holidays and 调休 make-up days). 2027's notice is not out yet: its statutory holidays come
from ``holidays`` and carry no make-up days until an administrator adds them.
"""

import datetime

import chinese_calendar
import holidays

FIRST_YEAR, LAST_YEAR = 2024, 2027
STANDARD_PERIODS = {
    str(weekday): [["08:30", "12:00"], ["13:30", "17:30"]] if weekday < 5 else []
    for weekday in range(7)
}


def national_days() -> list[tuple[datetime.date, str, str]]:
    """(date, "holiday" | "workday", name) for every exceptional date."""
    days = []
    known = {d.year for d in chinese_calendar.holidays}
    for day, holiday in sorted(chinese_calendar.holidays.items()):
        if FIRST_YEAR <= day.year <= LAST_YEAR and day.weekday() < 5:
            days.append((day, "holiday", str(getattr(holiday, "value", holiday))))
    for day, holiday in sorted(chinese_calendar.workdays.items()):
        if FIRST_YEAR <= day.year <= LAST_YEAR and day.weekday() >= 5:
            days.append((day, "workday", str(getattr(holiday, "value", holiday))))
    later = [y for y in range(FIRST_YEAR, LAST_YEAR + 1) if y not in known]
    for day, name in sorted(holidays.China(years=later).items()):
        if day.weekday() < 5:
            days.append((day, "holiday", name))
    return days


def load(WorkingCalendar, CalendarDay) -> None:
    if not WorkingCalendar.objects.exists():
        WorkingCalendar.objects.create(
            name="标准工作日历",
            time_zone="Asia/Shanghai",
            periods=STANDARD_PERIODS,
            is_default=True,
        )
    existing = set(CalendarDay.objects.filter(calendar=None).values_list("day", flat=True))
    CalendarDay.objects.bulk_create(
        CalendarDay(calendar=None, day=day, kind=kind, name=name)
        for day, kind, name in national_days()
        if day not in existing
    )
