"""The in-app inbox: every signed-in person sees their own notifications, newest first."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from .forms import PreferenceForm
from .models import Notification, Preference

PAGE_SIZE = 50


def get_notification_for_user(request, pk: int) -> Notification:
    """The person's own delivered notification; 404 for anyone else's, or one deferred."""
    return get_object_or_404(Notification.objects.inbox(request.user), pk=pk)


@login_required
def inbox(request):
    notifications = Notification.objects.inbox(request.user).select_related("case")
    if request.GET.get("unread"):
        notifications = notifications.unread()
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    preference = Preference.objects.filter(user=request.user).first() or Preference(
        user=request.user
    )
    return render(
        request,
        "notifications/inbox.html",
        {
            "page": page,
            "only_unread": bool(request.GET.get("unread")),
            "form": PreferenceForm(instance=preference),
            "has_email": bool(request.user.email),
        },
    )


@login_required
def open_notification(request, pk: int):
    """Follow a notification to what it is about, marking it read on the way."""
    notification = get_notification_for_user(request, pk)
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )
    target = notification.get_absolute_url()
    # Links are written by GridGov itself, but a redirect never leaves the site.
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect("notifications:inbox")
    return redirect(target)


@login_required
@require_POST
def mark_read(request, pk: int):
    notification = get_notification_for_user(request, pk)
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    return redirect_back(request)


@login_required
@require_POST
def mark_all_read(request):
    count = Notification.objects.inbox(request.user).unread().update(read_at=timezone.now())
    messages.success(
        request,
        ngettext(
            "%(count)d notification marked read.", "%(count)d notifications marked read.", count
        )
        % {"count": count},
    )
    return redirect_back(request)


@login_required
@require_POST
def preferences(request):
    preference, _created = Preference.objects.get_or_create(user=request.user)
    form = PreferenceForm(request.POST, instance=preference)
    if form.is_valid():
        form.save()
        messages.success(request, _("Your notification settings are saved."))
    return redirect("notifications:inbox")


def redirect_back(request):
    """Back to the inbox page the person was on (only ever a page of this site)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("notifications:inbox")
