"""Credentials for the API: keys for other systems and tokens for people.

Neither is stored: only a short public prefix (to find the row) and the SHA-256 of the
secret part. The secret is 256 random bits, so a fast hash is enough (nobody can guess
it by brute force) and checking a key costs microseconds on every request, where a slow
password hash would cost tens of milliseconds.
"""

import copy
import datetime
import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import connections, models, router
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from governance.db import execute_unflushed, version_token

# Recording the last use at most this often keeps a busy key from writing on every request.
LAST_USED_RESOLUTION = datetime.timedelta(seconds=60)

# Scopes that are not one workflow action each (those are "cases:act:<action>").
SCOPE_CASES_READ = "cases:read"
SCOPE_CASES_CREATE = "cases:create"
SCOPE_PERSONAL_DATA = "personal_data"
SCOPE_ACT_PREFIX = "cases:act:"
SCOPE_ACT_ANY = "cases:act:*"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret(kind: str) -> tuple[str, str, str]:
    """(raw credential, prefix, digest). The raw form is ``<kind>_<prefix>.<secret>``."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{kind}_{prefix}.{secret}", prefix, _digest(secret)


def _split(raw: str, kind: str) -> tuple[str, str] | None:
    head, dot, secret = (raw or "").strip().partition(".")
    if not dot or not head.startswith(kind + "_") or not secret:
        return None
    return head[len(kind) + 1 :], secret


class CredentialsVersion(models.Model):
    """One row: a token that database triggers change, in the writing transaction, on
    every write that may change what a credential allows: the keys and tokens themselves
    (not their last use), a key's areas, the users they act as (active, names), their
    roles and departments. A process keeps the credentials it checked, with their users'
    roles, departments and areas, for as long as the token stays the one it read them
    under: one small read per request instead of three or four."""

    token = models.CharField(max_length=32, default="")

    def __str__(self) -> str:
        return self.token


# (kind, prefix) -> (token it was read under, the credential with its user read).
_held: dict[tuple[str, str], tuple[str, models.Model]] = {}


class CredentialQuerySet(models.QuerySet):
    kind = ""

    def authenticate(self, raw: str, token: str | None = None):
        """The active credential ``raw`` names, with its user loaded, or None. Its user's
        roles and departments (and a key's areas) are read with it, and kept in this
        process while ``CredentialsVersion`` holds; each request gets its own copy.
        ``token``: that table's token as this request read it (else it is read now)."""
        parts = _split(raw, self.kind)
        if parts is None:
            return None
        prefix, secret = parts
        now = timezone.now()
        if token is None:
            token = version_token(CredentialsVersion)
        held = _held.get((self.kind, prefix))
        if held is None or held[0] != token:
            # Read after the token: a change committed since is kept under the old token
            # at worst, and read again once the token moves on.
            found = (
                self.filter(prefix=prefix, is_active=True, user__is_active=True)
                .select_related("user")
                .first()
            )
            if found is None:
                _held.pop((self.kind, prefix), None)
                return None
            for name in ("roles", "department_ids"):
                getattr(found.user, name)  # cached properties: read now, kept with it
            found.read_with()
            held = _held[self.kind, prefix] = (token, found)
        found = held[1]
        if found.expires_at is not None and found.expires_at <= now:
            return None
        if not hmac.compare_digest(found.secret_hash, _digest(secret)):
            return None
        if found.last_used_at is None or now - found.last_used_at > LAST_USED_RESOLUTION:
            type(found).objects.filter(pk=found.pk).update(last_used_at=now)
            found.last_used_at = now
        mine = copy.copy(found)
        mine.user = copy.copy(found.user)
        return mine


class ApiKeyQuerySet(CredentialQuerySet):
    kind = "ggk"


class ApiKey(models.Model):
    """Another system's access: it acts as a service account (so every change it makes is
    recorded as someone), only within its scopes and areas, at most so many requests a
    minute."""

    name = models.CharField(_("name"), max_length=100)
    owner = models.ForeignKey(
        "org.Department",
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_keys",
        help_text=_("The department answerable for the system that uses this key."),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acts as"),
        on_delete=models.PROTECT,
        related_name="api_keys",
        help_text=_(
            "The service account the key acts as: its roles decide what the key may do, "
            "and every change is recorded under its name."
        ),
    )
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    all_areas = models.BooleanField(
        _("all areas"), default=False, help_text=_("Otherwise only the areas listed.")
    )
    areas = models.ManyToManyField(
        "grids.Area", verbose_name=_("areas"), blank=True, related_name="+"
    )
    rate_limit = models.PositiveIntegerField(
        _("requests per minute"), default=120, help_text=_("Further requests are refused.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} (ggk_{self.prefix})"

    def new_secret(self) -> str:
        """Give the key a new secret and return it: the only time it can be read."""
        raw, self.prefix, self.secret_hash = _new_secret(ApiKeyQuerySet.kind)
        return raw

    @classmethod
    def issue(cls, *, areas=(), **fields) -> tuple["ApiKey", str]:
        """A saved key and its raw value, which is not stored."""
        key = cls(**fields)
        raw = key.new_secret()
        key.save()
        if areas:
            key.areas.set(areas)
        return key, raw

    def read_with(self) -> None:
        """What authentication keeps with the key: its areas."""
        self.area_ids  # noqa: B018

    def has_scope(self, scope: str) -> bool:
        if scope in self.scopes:
            return True
        return scope.startswith(SCOPE_ACT_PREFIX) and SCOPE_ACT_ANY in self.scopes

    @property
    def area_ids(self) -> frozenset[int] | None:
        """The areas the key may see, or None for all of them."""
        if self.all_areas:
            return None
        if not hasattr(self, "_area_ids"):
            links = ApiKey.areas.through.objects.filter(apikey_id=self.pk)
            self._area_ids = frozenset(links.values_list("area_id", flat=True))
        return self._area_ids

    def restrict_cases(self, queryset):
        """Only the cases located in the key's areas (a district, street or community)."""
        ids = self.area_ids
        if ids is None:
            return queryset
        return queryset.filter(Q(district__in=ids) | Q(street__in=ids) | Q(community__in=ids))

    def may_see_case(self, case) -> bool:
        ids = self.area_ids
        return ids is None or bool({case.district_id, case.street_id, case.community_id} & ids)


class PersonalTokenQuerySet(CredentialQuerySet):
    kind = "ggt"


class PersonalToken(models.Model):
    """A person's token for the API, obtained with their user name and password; it acts
    exactly as they do. Revoking it (or deactivating the person) ends it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)

    objects = PersonalTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("personal API token")
        verbose_name_plural = _("personal API tokens")

    def __str__(self) -> str:
        return f"{self.user}: ggt_{self.prefix}"

    def read_with(self) -> None:
        """Nothing beyond the user's roles and departments."""

    @classmethod
    def issue(cls, *, user, name: str = "", lifetime: datetime.timedelta | None = None):
        token = cls(user=user, name=name)
        if lifetime is not None:
            token.expires_at = timezone.now() + lifetime
        raw, token.prefix, token.secret_hash = _new_secret(PersonalTokenQuerySet.kind)
        token.save()
        return token, raw


class ApiRequestLog(models.Model):
    """One API request that changed something (or tried to): who, with which key, what."""

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acting as"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A key that has acted cannot be deleted, only deactivated: its log keeps naming it.
    api_key = models.ForeignKey(
        ApiKey,
        verbose_name=_("API key"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requests",
    )
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("path"), max_length=500)
    status = models.PositiveSmallIntegerField(pgettext_lazy("HTTP", "status"))
    remote_addr = models.GenericIPAddressField(_("address"), null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("API request")
        verbose_name_plural = _("API requests")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.method} {self.path} {self.status}"

    @classmethod
    def of_request(cls, request, status: int) -> "ApiRequestLog":
        """The line for a request (Django's) answered with ``status``, not written yet."""
        user = getattr(request, "user", None)
        return cls(
            user=user if user is not None and user.is_authenticated else None,
            api_key=getattr(request, "api_key", None),
            method=request.method[:10],
            path=request.path[:500],
            status=status,
            remote_addr=request.META.get("REMOTE_ADDR") or None,
        )

    def write(self) -> None:
        """Record a request once it has been answered, without waiting for the disk: what
        the request changed is in its own, flushed, transaction (a case's events name who
        did what); a crash of the database may lose the log's last lines (under a second
        of them). A view may instead write the line with its own rows, in their statement,
        and set ``request.api_request_logged`` (the middleware then writes none)."""
        fields = [f for f in self._meta.concrete_fields if not f.primary_key]
        connection = connections[router.db_for_write(type(self))]
        quote = connection.ops.quote_name
        execute_unflushed(
            f"INSERT INTO {quote(self._meta.db_table)}"
            f" ({', '.join(quote(f.column) for f in fields)})"
            f" VALUES ({', '.join(['%s'] * len(fields))})",
            [f.get_db_prep_save(f.pre_save(self, True), connection) for f in fields],
        )
