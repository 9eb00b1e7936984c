from functools import cache

from django import template
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import get_language, gettext

from cases.models import Stage

register = template.Library()


@cache
def stage_labels(language: str | None) -> dict[str, str]:
    return {stage.value: str(stage.label) for stage in Stage}


@register.filter
def stage_label(stage: str) -> str:
    """The stage's name in the current language: ``get_stage_display`` rebuilds the whole
    choice list for every call, which lists of 200 cases felt."""
    return stage_labels(get_language()).get(stage, stage)


@cache
def _detail_url(script_prefix: str) -> tuple[str, str]:
    """The case page's address around its key, reversed once per script prefix."""
    head, _, tail = reverse("cases:detail", args=[0]).rpartition("/0/")
    return f"{head}/", f"/{tail}"


@cache
def _row_labels(language: str | None) -> dict[str, str]:
    """The row's words in the active language (``language`` keys the cache)."""
    return {
        "deadline": gettext("deadline"),
        "due": gettext("due"),
        "outside": gettext("outside coverage"),
    }


def _moment(value) -> str:
    return timezone.localtime(value).strftime("%m-%d %H:%M")


@register.simple_tag
def case_row(case) -> str:
    """One case in a list (the inbox, the desks, my grids), built in Python. The same row
    as a template include cost about a third of a millisecond, most of a 200-case inbox's
    time (bench/bench_cases.py); labels and the address are looked up once per language."""
    labels = _row_labels(get_language())
    head, tail = _detail_url(get_script_prefix())
    light = case.light()
    where = case.community.name if case.community_id else labels["outside"]
    if case.grid_id:
        where = format_html("{} · {}", where, case.grid.code)
    if case.deadline and case.is_open:
        when = format_html("{} {}", labels["due"], _moment(case.deadline))
    else:
        when = _moment(case.reported_at)
    return format_html(
        '<li class="case-row{}" data-case="{}"><a href="{}{}{}">'
        '<span class="ref">{}</span> <span class="cat">{}</span>'
        ' <span class="stage stage-{}">{}</span>{}'
        ' <span class="where">{}</span> <span class="when">{}</span>{}</a></li>',
        f" light-{light}" if light else "",
        case.pk,
        head,
        case.pk,
        tail,
        case.reference,
        case.category.display_name(),
        case.stage,
        stage_label(case.stage),
        format_html(' <span class="light {}" title="{}"></span>', light, labels["deadline"])
        if light
        else "",
        where,
        when,
        format_html(' <span class="dept">{}</span>', case.department.name)
        if case.department_id
        else "",
    )
