from django.urls import reverse

from .models import ROLE_HOME


def roles(request):
    """The signed-in person's roles with their home pages, for the header's role menu."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "my_roles": [
            {"value": role.value, "label": role.label, "url": reverse(ROLE_HOME[role])}
            for role in user.ordered_roles()
        ]
    }
