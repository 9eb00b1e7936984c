from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .models import ROLE_HOME, Role

# The pages a role uses every day besides its home page, shown under the header.
ROLE_LINKS = {
    Role.GRID_WORKER: [
        ("cases:report", _("Report a case")),
        ("cases:tasks", _("My on-site tasks")),
        ("cases:mine", _("My reports")),
        ("maps:map", _("Case map")),
        ("stats:dashboard", _("Dashboard")),
        ("evaluation:export_cases", _("Export cases")),
    ],
    Role.DISPATCHER: [
        ("cases:report", _("Register a call")),
        ("cases:search", _("Find a case")),
        ("cases:routing", _("Routing check")),
        ("maps:map", _("Case map")),
    ],
    Role.SHIFT_LEADER: [("cases:search", _("Find a case")), ("maps:map", _("Case map"))],
    Role.OFFICER: [
        ("cases:search", _("Find a case")),
        ("maps:map", _("Case map")),
        ("stats:dashboard", _("Dashboard")),
        ("evaluation:evaluation", _("Evaluation")),
        ("evaluation:export_cases", _("Export cases")),
    ],
    Role.SUPERVISOR: [
        ("cases:search", _("Find a case")),
        ("maps:map", _("Case map")),
        ("stats:dashboard", _("Dashboard")),
        ("evaluation:evaluation", _("Evaluation")),
        ("evaluation:export_cases", _("Export cases")),
        ("grids:map", _("Grid map")),
    ],
    Role.ADMINISTRATOR: [
        ("maps:map", _("Case map")),
        ("stats:dashboard", _("Dashboard")),
        ("evaluation:evaluation", _("Evaluation")),
        ("evaluation:export_cases", _("Export cases")),
        ("grids:map", _("Grid map")),
        ("grids:imports", _("Import areas and grids")),
        ("cases:routing", _("Routing check")),
    ],
}


def roles(request):
    """The signed-in person's roles with their home pages, for the header's role menu."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    links, seen = [], set()
    for role in user.ordered_roles():
        for name, label in ROLE_LINKS.get(role, []):
            if name not in seen:
                seen.add(name)
                links.append({"url": reverse(name), "label": label})
    return {
        "my_roles": [
            {"value": role.value, "label": role.label, "url": reverse(ROLE_HOME[role])}
            for role in user.ordered_roles()
            if role in ROLE_HOME
        ],
        "quick_links": links,
        # People whose forms are filled in on the street (a report, a check on site, a
        # handling done) keep them on the phone while there is no connection (outbox.js).
        # Not the dispatch desk: it works on a wired connection, and its calls carry
        # citizens' names and phone numbers, which are not left in a browser's storage.
        "outbox": user.has_role(Role.GRID_WORKER, Role.OFFICER),
    }
