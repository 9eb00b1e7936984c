from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from org.decorators import role_required
from org.models import Role


@role_required(Role.DISPATCHER)
def desk(request):
    return render(
        request,
        "role_home.html",
        {
            "title": _("Dispatch desk"),
            "intro": _("Reports to file and cases to dispatch to departments."),
        },
    )


@role_required(Role.SHIFT_LEADER)
def approvals(request):
    return render(
        request,
        "role_home.html",
        {
            "title": _("Approvals"),
            "intro": _("Cases waiting for your decision: voids, returns, extensions and holds."),
        },
    )


@role_required(Role.OFFICER)
def inbox(request):
    return render(
        request,
        "role_home.html",
        {
            "title": _("Department inbox"),
            "intro": _("Your department's cases, nearest deadline first."),
        },
    )


@role_required(Role.SUPERVISOR)
def overview(request):
    return render(
        request,
        "role_home.html",
        {
            "title": _("Overview"),
            "intro": _("Cases across all departments on one map, and the figures behind them."),
        },
    )
