from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone

from governance.models import Heartbeat

from .decorators import role_required
from .models import Department, Role, User


@login_required
def home(request):
    """Send each person to the page of their first role."""
    return redirect(request.user.home_url())


@login_required
def no_role(request):
    return render(request, "org/no_role.html", status=403)


@role_required(Role.ADMINISTRATOR)
def admin_home(request):
    heartbeat = Heartbeat.objects.filter(name="worker").first()
    worker_age = (timezone.now() - heartbeat.seen_at).total_seconds() if heartbeat else None
    return render(
        request,
        "org/admin_home.html",
        {
            "heartbeat": heartbeat,
            # Beat enqueues a heartbeat every 60 s: past three minutes something is down.
            "worker_ok": worker_age is not None and worker_age < 180,
            "department_count": Department.objects.count(),
            "people_count": User.objects.filter(is_active=True).count(),
        },
    )
