from django.utils.translation import gettext as _

from .models import (
    SCOPE_ACT_ANY,
    SCOPE_ACT_PREFIX,
    SCOPE_CASES_CREATE,
    SCOPE_CASES_READ,
    SCOPE_PERSONAL_DATA,
)


def scope_choices() -> list[tuple[str, str]]:
    """Every scope a key may hold: reading and reporting cases, each workflow action (from
    the transition table, so a new action needs no change here), and personal data."""
    from cases.workflow import TRANSITIONS

    choices = [
        (SCOPE_CASES_READ, _("Read cases")),
        (SCOPE_CASES_CREATE, _("Report cases")),
        (SCOPE_PERSONAL_DATA, _("See citizens' names and phone numbers")),
        (SCOPE_ACT_ANY, _("Take any action the service account's roles allow")),
    ]
    for transition in TRANSITIONS:
        choices.append((SCOPE_ACT_PREFIX + transition.action, _("Action: %s") % transition.label))
    return choices
