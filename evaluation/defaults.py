"""Default weights and grades from GB/T 30428.4 (CJ/T 292) as far as the daily roll-ups can
compute them; an administrator changes them on the admin site."""

from decimal import Decimal

WEIGHTS = {
    # Area: 监督举报率 10 %, 结案率 30 %, 按期结案率 40 % (the standard's 立案数 20 % is a
    # banded count, not a rate; it is left out and the rest weighed in proportion).
    "area": {"public": 10, "closure": 30, "on_time": 40},
    # Department: 结案率, 按时处置率 (on-time closure here), 返工率 30 % each; 回退率 10 %.
    "department": {"closure": 30, "on_time": 30, "rework": 30, "return": 10},
    # Grid worker post: 漏报率 (public reports the patrols missed).
    "grid_worker": {"public": 20},
    # Dispatcher post: 准确派遣率 40 %.
    "dispatcher": {"accurate_dispatch": 40},
    # Shift leader post: 准确立案率 40 %, 按时结案率 35 %.
    "shift_leader": {"accurate_filing": 40, "on_time": 35},
}
GRADES = {"A": 90, "B": 75, "C": 60, "D": 40, "E": 0}


def load(KpiWeight, Grade) -> None:
    """Add the default weights and grades that are missing; keep the ones that exist."""
    for subject, weights in WEIGHTS.items():
        for kpi, weight in weights.items():
            KpiWeight.objects.get_or_create(
                subject=subject, kpi=kpi, defaults={"weight": Decimal(weight)}
            )
    for letter, minimum in GRADES.items():
        Grade.objects.get_or_create(letter=letter, defaults={"minimum": Decimal(minimum)})
