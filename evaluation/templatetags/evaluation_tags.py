from django import template

register = template.Library()


@register.simple_tag
def kpi_cell(result, kpi) -> str:
    if kpi not in result.values:
        return "·"
    value = result.values[kpi]
    return "—" if value is None else f"{100 * value:.1f}%"
