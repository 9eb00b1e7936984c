from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """3 min, 4.5 h, 2.3 d."""
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 3600:
        return _("%(n)d min") % {"n": round(seconds / 60)}
    if seconds < 2 * 86400:
        return _("%(n).1f h") % {"n": seconds / 3600}
    return _("%(n).1f d") % {"n": seconds / 86400}


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


@register.filter
def signed_percent(value) -> str:
    return "—" if value is None else f"{value * 100:+.1f} %"


@register.filter
def signed_points(value) -> str:
    """A change of a rate, in percentage points."""
    return "—" if value is None else _("%(n)+.1f pts") % {"n": value * 100}
