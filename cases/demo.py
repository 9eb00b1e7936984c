"""Demo routing: who owns what in Dongcheng (category × place → department)."""

from django.db import transaction

from grids.models import Area
from org.models import Department

from .models import Category, RoutingRule, Source
from .seed import department_kinds


@transaction.atomic
def load() -> int:
    """One rule per minor class: functional departments district-wide; street matters
    (bicycles, stacked goods, fitness equipment…) to each street's own office."""
    if RoutingRule.objects.exists():
        return RoutingRule.objects.count()
    departments = {d.code: d for d in Department.objects.all()}
    streets = list(Area.objects.filter(level=Area.Level.STREET))
    rules = []
    for full_code, kind in department_kinds().items():
        category = Category.objects.filter(full_code=full_code).first()
        if category is None:
            continue
        if kind == "street":
            for street in streets:
                office = departments.get(f"street-{street.code}")
                if office:
                    rules.append(
                        RoutingRule(
                            name=f"{category.name} · {street.name}",
                            priority=100,
                            category=category,
                            area=street,
                            department=office,
                        )
                    )
            continue
        department = departments.get(f"dc-{kind}")
        if department:
            if category.default_department_id is None:
                category.default_department = department
                category.save(update_fields=["default_department"])
            rules.append(
                RoutingRule(
                    name=category.name, priority=100, category=category, department=department
                )
            )
    RoutingRule.objects.bulk_create(rules)
    return len(rules)


# Calls the demo's hotline has just taken in the demo grid worker's grids: each waits for
# her on-site verification, so her task list has work on a first run.
CALLS = [
    ("E0102", "市民来电：胡同口有一堆生活垃圾，已经放了两天，气味很大。"),
    ("E0104", "市民来电：人行道上有大片油污，行人容易滑倒。"),
]


def hotline_calls(dispatcher, worker) -> list:
    """Register CALLS as the dispatcher would, one in each of the worker's first grids."""
    from grids.models import UnitGrid

    from .services import case_report

    grids = UnitGrid.objects.current().covered_by(worker).order_by("code")
    reported = []
    for (code, description), grid in zip(CALLS, grids, strict=False):
        reported.append(
            case_report(
                reporter=dispatcher,
                source=Source.HOTLINE,
                point=grid.boundary.point_on_surface,
                category=Category.objects.get(full_code=code),
                description=description,
            )
        )
    return reported
