from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Attempt, Delivery, Subscription, event_types
from .services import deliveries_replay, secret_regenerate

SECRET_SESSION_KEY = "feeds-new-secret-{}"

HELP = _(
    "GridGov POSTs each event as JSON to this URL. The header X-GridGov-Signature: "
    "t=<unix time>,v1=<hex> carries HMAC-SHA256, keyed with the secret, of "
    "“<t>.<raw body>”. The receiver recomputes it, compares in constant time, refuses a "
    "t more than 5 minutes from its clock (a replayed request) and keeps the event ids "
    "it has processed (X-GridGov-Event, also in the body as “id”): a retry or a replay "
    "sends the same id again. Answer 2xx once the event is stored; anything else is "
    "retried with growing delays."
)


class SubscriptionForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=event_types,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Events of cases that are or were with this department."),
    )
    url = forms.URLField(
        label=_("receiving URL"), max_length=500, assume_scheme="https", help_text=HELP
    )

    class Meta:
        model = Subscription
        fields = ["department", "name", "url", "events", "include_personal_data", "is_active"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError(_("Give an http:// or https:// address."))
        return url


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["name", "department", "url", "event_count", "include_personal_data"]
    list_display += ["is_active", "pending_count", "failed_count"]
    list_filter = ["is_active", "department"]
    search_fields = ["name", "url", "department__name", "department__code"]
    autocomplete_fields = ["department"]
    list_select_related = ["department"]
    readonly_fields = ["secret_hint", "created_at"]

    def get_fields(self, request, obj=None):
        fields = list(self.form.Meta.fields)
        return fields + ["secret_hint", "created_at"] if obj else fields

    @admin.display(description=_("events"))
    def event_count(self, obj):
        return len(obj.events)

    actions = ["replay_failed"]

    def get_queryset(self, request):
        # The list's two counts in the same query as the rows.
        return (
            super()
            .get_queryset(request)
            .annotate(
                pending=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.PENDING)),
                failed=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.FAILED)),
            )
        )

    @admin.display(description=_("pending"), ordering="pending")
    def pending_count(self, obj):
        return obj.pending

    @admin.display(description=_("failed"), ordering="failed")
    def failed_count(self, obj):
        return obj.failed

    @admin.action(description=_("Replay every failed delivery of the selected subscriptions"))
    def replay_failed(self, request, queryset):
        count = deliveries_replay(
            deliveries=Delivery.objects.filter(
                subscription__in=queryset, status=Delivery.Status.FAILED
            )
        )
        self.message_user(
            request,
            _("%(count)d deliveries will be sent again with their event ids.") % {"count": count},
            messages.SUCCESS,
        )

    @admin.display(description=_("secret"))
    def secret_hint(self, obj):
        url = reverse("admin:feeds_subscription_secret", args=[obj.pk])
        return format_html(
            '{} <a href="{}">{}</a>', obj.secret_hint, url, _("Generate a new secret")
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            # Shown once, on the next page, from the server-side session (never in a cookie).
            request.session[SECRET_SESSION_KEY.format(obj.pk)] = obj.secret

    def response_add(self, request, obj, post_url_continue=None):
        return redirect("admin:feeds_subscription_secret", obj.pk)

    def get_urls(self):
        return [
            path(
                "<int:pk>/secret/",
                self.admin_site.admin_view(self.secret_view),
                name="feeds_subscription_secret",
            ),
        ] + super().get_urls()

    def secret_view(self, request, pk):
        """Shows a new secret once; POST generates another (the old one stops working).
        admin_view() makes the page uncacheable."""
        subscription = get_object_or_404(Subscription, pk=pk)
        if not self.has_change_permission(request, subscription):
            raise PermissionDenied
        key = SECRET_SESSION_KEY.format(subscription.pk)
        if request.method == "POST":
            request.session[key] = secret_regenerate(subscription=subscription)
            messages.success(request, _("A new secret was generated: the old one no longer works."))
            return redirect("admin:feeds_subscription_secret", subscription.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Secret of %(name)s") % {"name": subscription},
            "subscription": subscription,
            "secret": request.session.pop(key, None),
            "help": HELP,
        }
        return TemplateResponse(request, "feeds/admin/secret.html", context)


class EventTypeFilter(admin.SimpleListFilter):
    """The event types by their names, not the action codes stored."""

    title = _("event type")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return event_types()

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ("at", "status_code", "ok", "duration_ms", "error", "response")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Read-only record of what was sent; "replay" sends an event again with its id."""

    list_display = ["event_number", "event_type", "subscription", "status", "tries"]
    list_display += ["next_attempt_at", "delivered_at", "created_at"]
    list_filter = ["status", EventTypeFilter, "subscription__department", "subscription"]
    search_fields = ["=event__id", "event__case__number", "subscription__name"]
    list_select_related = ["subscription__department"]
    fields = readonly_fields = (
        "subscription",
        "event_number",
        "event_type",
        "status",
        "tries",
        "body",
        "next_attempt_at",
        "created_at",
        "delivered_at",
        "replayed_at",
    )
    inlines = [AttemptInline]
    actions = ["replay"]

    @admin.display(description=_("event"), ordering="event_id")
    def event_number(self, obj):
        return obj.event_id

    @admin.display(description=_("event type"), ordering="action")
    def event_type(self, obj):
        return dict(event_types()).get(obj.action, obj.action)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Administrators view a delivery; nothing on it is edited.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Replay: send the same events again"))
    def replay(self, request, queryset):
        count = deliveries_replay(deliveries=queryset)
        self.message_user(
            request,
            _("%(count)d deliveries will be sent again with their event ids.") % {"count": count},
            messages.SUCCESS,
        )
