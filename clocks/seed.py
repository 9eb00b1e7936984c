"""The default stage limits and escalation ladder (DOMAIN.md §3 and §5); administrators
change them in the admin."""

from decimal import Decimal

# (stage, urgency, value, unit). Handling and the whole case take the filing condition's
# limit; their rows here serve only a case without one.
STAGE_LIMITS = [
    ("verify", "", "1", "working_hours"),
    ("file", "", "0.5", "working_hours"),
    ("file", "urgent", "0.17", "urgent_hours"),
    ("dispatch", "", "0.5", "working_hours"),
    ("dispatch", "urgent", "0.17", "urgent_hours"),
    ("handle", "", "1", "working_days"),
    ("check", "", "4", "working_hours"),
    ("case", "", "5", "working_days"),
]

LADDER = [
    {
        "key": "warn",
        "name": "预警",
        "name_en": "Warning",
        "level": 1,
        "percent": 80,
        "notify_assignee": True,
        "working_hours_only": True,
    },
    {
        "key": "breach",
        "name": "超期",
        "name_en": "Overdue",
        "level": 2,
        "percent": 100,
        "notify_assignee": True,
        "notify_head": True,
    },
    {
        "key": "yellow",
        "name": "黄牌督办",
        "name_en": "Yellow-card supervision",
        "level": 3,
        "clock_kind": "case",
        "percent": 150,
        "notify_street": True,
        "supervision": 2,
    },
    {
        "key": "red",
        "name": "红牌督办",
        "name_en": "Red-card supervision",
        "level": 4,
        "clock_kind": "case",
        "percent": 200,
        "notify_centre": True,
        "raise_urgency": True,
        "supervision": 3,
    },
]


def load(StageLimit, EscalationStep) -> None:
    for stage, urgency, value, unit in STAGE_LIMITS:
        StageLimit.objects.get_or_create(
            stage=stage,
            urgency=urgency,
            defaults={"limit_value": Decimal(value), "limit_unit": unit},
        )
    # Only the fields the model has at this point of the migrations (name_en came later).
    fields = {f.name for f in EscalationStep._meta.get_fields()}
    for step in LADDER:
        defaults = {k: v for k, v in step.items() if k in fields}
        EscalationStep.objects.get_or_create(key=step["key"], defaults=defaults)
