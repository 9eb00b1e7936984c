from functools import cache

from django import template
from django.utils.translation import get_language

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
