from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from org.decorators import role_required
from org.models import Role


@role_required(Role.GRID_WORKER)
def my_grids(request):
    return render(
        request,
        "role_home.html",
        {
            "title": _("My grids"),
            "intro": _("The unit grids you patrol and the open cases in them."),
        },
    )
