import datetime
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.cache import never_cache

from cases.models import Case, Category
from cases.views import case_list
from governance.db import custom_plans
from grids.models import Area, UnitGrid
from org.decorators import role_required
from org.models import Department, Role

from .figures import (
    AGE_BUCKETS,
    EVENT_FIGURES,
    GRID,
    Period,
    Place,
    Scope,
    dashboard,
    drill,
    place_of_area,
    place_of_grid,
    scope_for,
)
from .forms import DrillForm, FilterForm
from .models import RollupState

DASHBOARD_ROLES = (Role.SUPERVISOR, Role.ADMINISTRATOR, Role.OFFICER, Role.GRID_WORKER)
PAGE_SIZE = 100

LABELS = {
    "reported": pgettext_lazy("figure", "Reported"),
    "filed": pgettext_lazy("figure", "Filed"),
    "public_filed": gettext_lazy("Filed from the hotline or the public"),
    "due": gettext_lazy("Filed and due to close"),
    "due_closed": gettext_lazy("Filed in the period and closed"),
    "due_on_time": gettext_lazy("Filed in the period and closed on time"),
    "closed": pgettext_lazy("figure", "Closed"),
    "closed_on_time": gettext_lazy("Closed on time"),
    "disposed": gettext_lazy("Reported done by the department"),
    "reworks": gettext_lazy("Sent back for rework"),
    "dispatched": pgettext_lazy("figure", "Dispatched"),
    "returns": gettext_lazy("Returned as the wrong department"),
    "voided": gettext_lazy("Voided"),
    "backlog": gettext_lazy("Backlog"),
    "overdue": gettext_lazy("Overdue"),
}


def age_label(bucket: tuple) -> str:
    low, high = bucket
    if high is None:
        return _("%(low)d days or more") % {"low": low}
    if low == 0:
        return _("under %(high)d day") % {"high": high}
    return _("%(low)d–%(high)d days") % {"low": low, "high": high}


def user_scope(request) -> Scope:
    scope = scope_for(request.user)
    if scope is None:
        raise PermissionDenied
    return scope


def chosen_place(data: dict, scope: Scope) -> tuple[Place | None, list]:
    """The place asked for and the breadcrumbs down to it (404 for an unknown id)."""
    if data.get("grid"):
        grid = UnitGrid.objects.select_related("community__parent__parent").filter(pk=data["grid"])
        grid = grid.first()
        if grid is None or (scope.grids is not None and grid.pk not in scope.grids):
            raise Http404
        chain = [grid.community, grid.community.parent, grid.community.parent.parent]
        return place_of_grid(grid), [a for a in reversed(chain) if a is not None]
    if data.get("area"):
        area = Area.objects.filter(pk=data["area"]).select_related("parent__parent").first()
        if area is None:
            raise Http404
        chain, node = [], area.parent
        while node is not None:
            chain.insert(0, node)
            node = node.parent
        return place_of_area(area), chain
    return None, []


def children(place: Place | None, scope: Scope) -> list[dict]:
    """The places one level down, to narrow the view."""
    if place is None:
        areas = Area.objects.filter(level=Area.Level.DISTRICT)
    elif place.level < 2:
        areas = Area.objects.filter(parent_id=place.id)
    elif place.level == 2:
        grids = UnitGrid.objects.current().filter(community_id=place.id)
        if scope.grids is not None:
            grids = grids.filter(pk__in=scope.grids)
        return [{"grid": g.pk, "name": g.code} for g in grids.only("pk", "code")]
    else:
        return []
    return [{"area": a.pk, "name": a.name} for a in areas.only("pk", "name")]


def query(**params) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def line_chart(
    series: list[dict], keys: tuple[str, ...], width=640, height=180, partial=frozenset()
) -> dict:
    """Polylines for a small server-rendered SVG chart. Points at the indexes in
    ``partial`` count only part of their span (a week cut by the period, today so far):
    they are drawn hollow and joined dashed, so that their drop is not read as a fall."""
    top = max([1, *(row[k] for row in series for k in keys)])
    step = width / max(1, len(series) - 1)
    lines = []
    for key in keys:
        dots = [
            (f"{i * step:.1f}", f"{height - row[key] / top * (height - 10):.1f}", i in partial)
            for i, row in enumerate(series)
        ]
        # Runs of segments, each run solid or dashed: a segment is dashed when either end
        # is partial.
        runs: list[tuple[bool, list]] = []
        for i in range(len(dots) - 1):
            dashed = i in partial or i + 1 in partial
            if runs and runs[-1][0] == dashed:
                runs[-1][1].append(dots[i + 1])
            else:
                runs.append((dashed, [dots[i], dots[i + 1]]))
        segments = [
            {"dashed": dashed, "points": " ".join(f"{x},{y}" for x, y, _ in run)}
            for dashed, run in runs
        ]
        # Dots too, so that a series of one point (a one-week period) still shows.
        lines.append({"key": key, "label": LABELS[key], "segments": segments, "dots": dots})
    ticks = [series[0], series[len(series) // 2], series[-1]] if series else []
    return {
        "width": width,
        "height": height,
        "top": top,
        "lines": lines,
        "ticks": ticks,
        "partial": bool(partial),
    }


def trend_charts(daily: list[dict], weeks: list[dict]) -> tuple[dict, dict]:
    """The per day and per week charts; today is still counting, and so is its week."""
    today = timezone.localdate()
    keys = ("reported", "filed", "closed")
    days_partial = frozenset(i for i, row in enumerate(daily) if row["day"] == today)
    weeks_partial = frozenset(
        i
        for i, week in enumerate(weeks)
        if week["days"] < 7 or week["day"] <= today < week["day"] + datetime.timedelta(days=7)
    )
    return (
        line_chart(daily, keys, partial=days_partial),
        line_chart(weeks, keys, partial=weeks_partial),
    )


def dashboard_context(request, form: FilterForm, scope: Scope) -> dict:
    data = form.cleaned_data
    place, crumbs = chosen_place(data, scope)
    period = Period(data["start"], data["end"])
    figures = dashboard(place, scope, period)
    where = {"grid": place.id} if place and place.level == GRID else {"area": place and place.id}
    base = query(**where, start=period.start.isoformat(), end=period.end.isoformat())
    daily_chart, weekly_chart = trend_charts(figures["daily"], figures["weekly"])
    return {
        "figures": figures,
        "place": place,
        "crumbs": crumbs,
        "children": children(place, scope),
        "period": period,
        "scope": scope,
        "base_query": base,
        "labels": LABELS,
        "ages": [
            (i, age_label(bucket), count)
            for i, (bucket, count) in enumerate(figures["backlog"]["ages"])
        ],
        "daily_chart": daily_chart,
        "weekly_chart": weekly_chart,
        "state": RollupState.objects.filter(pk=1).first(),
    }


@role_required(*DASHBOARD_ROLES)
@custom_plans()
def dashboard_page(request):
    scope = user_scope(request)
    form = FilterForm(request.GET)
    if not form.is_valid():
        return render(request, "stats/dashboard.html", {"form": form, "invalid": True}, status=400)
    context = {"form": form, **dashboard_context(request, form, scope)}
    if request.GET.get("fragment"):
        return render(request, "stats/snippets/figures.html", context)
    return render(request, "stats/dashboard.html", context)


@never_cache
@role_required(*DASHBOARD_ROLES)
def version(request):
    """Cheap to poll: changes whenever the figures do."""
    state = RollupState.objects.filter(pk=1).values("version", "high_water").first()
    return JsonResponse(state or {"version": 0, "high_water": 0})


@role_required(*DASHBOARD_ROLES)
@custom_plans()
def cases_behind(request):
    """The list of cases behind one figure, with the dashboard's filters."""
    scope = user_scope(request)
    form = DrillForm(request.GET)
    if not form.is_valid():
        return render(request, "stats/cases.html", {"form": form, "invalid": True}, status=400)
    data = form.cleaned_data
    place, crumbs = chosen_place(data, scope)
    period = Period(data["start"], data["end"])
    figure = data["figure"]
    ids = drill(
        figure,
        place,
        scope,
        period,
        category=data["category"],
        age=data["age"],
        department=data["department"],
    )
    cases = case_list(Case.objects.visible_to(request.user).filter(pk__in=ids.order_by())).order_by(
        "-reported_at", "-pk"
    )
    page = Paginator(cases, PAGE_SIZE).get_page(data.get("page") or 1)
    detail = []
    if data["category"]:
        category = Category.objects.filter(pk=data["category"]).first()
        detail.append(category.display_name() if category else "—")
    if data["age"] is not None:
        detail.append(age_label(AGE_BUCKETS[data["age"]]))
    if data["department"]:
        department = Department.objects.filter(pk=data["department"]).first()
        detail.append(department.name if department else _("no department"))
    where = {"grid": place.id} if place and place.level == GRID else {"area": place and place.id}
    back = query(**where, start=period.start.isoformat(), end=period.end.isoformat())
    params = {k: v for k, v in request.GET.items() if k != "page"}
    return render(
        request,
        "stats/cases.html",
        {
            "figure": figure,
            "label": LABELS[figure],
            # The dashboard counts these figures' events; the list holds each case once.
            "counts_events": figure in EVENT_FIGURES,
            "detail": detail,
            "place": place,
            "crumbs": crumbs,
            "period": period,
            "page": page,
            "cases": page.object_list,
            "back": back,
            "page_query": urlencode(params),
        },
    )
