"""The organisation: departments in a tree, people, the roles they hold, and membership."""

from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """The posts of the closed loop (DOMAIN.md §2). Order is the landing priority."""

    ADMINISTRATOR = "administrator", _("Administrator")
    SUPERVISOR = "supervisor", _("Supervisor")
    SHIFT_LEADER = "shift_leader", _("Shift leader")
    DISPATCHER = "dispatcher", _("Dispatcher")
    OFFICER = "officer", _("Department officer")
    GRID_WORKER = "grid_worker", _("Grid worker")
    # Not a person: the account automatic routing acts as. Cannot log in.
    SYSTEM = "system", _("System: routing and deadlines")


# Each role's own home page; a person with several roles lands on the first they hold.
ROLE_HOME = {
    Role.ADMINISTRATOR: "org:admin_home",
    Role.SUPERVISOR: "cases:overview",
    Role.SHIFT_LEADER: "cases:approvals",
    Role.DISPATCHER: "cases:desk",
    Role.OFFICER: "cases:inbox",
    Role.GRID_WORKER: "grids:mine",
}


class Department(models.Model):
    class Kind(models.TextChoices):
        COMMAND_CENTRE = "command_centre", _("Command centre")
        STREET_OFFICE = "street_office", _("Street office")
        FUNCTIONAL = "functional", _("Functional department")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    head = models.ForeignKey(
        "User",
        verbose_name=_("head"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_departments",
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["command_centre", "street_office", "functional"]),
                name="department_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def ancestors(self) -> list["Department"]:
        """From the parent up to the root; the escalation ladder climbs this."""
        chain, node, seen = [], self.parent, {self.pk}
        while node is not None and node.pk not in seen:
            chain.append(node)
            seen.add(node.pk)
            node = node.parent
        return chain


class User(AbstractUser):
    """A person who works in GridGov. Roles are granted through ``RoleGrant``."""

    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    departments = models.ManyToManyField(
        Department,
        through="Membership",
        related_name="members",
        verbose_name=_("departments"),
        blank=True,
    )

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return self.full_name or self.username

    @cached_property
    def roles(self) -> frozenset[str]:
        if not self.is_active or self.pk is None:
            return frozenset()
        return frozenset(self.role_grants.values_list("role", flat=True))

    @cached_property
    def department_ids(self) -> frozenset[int]:
        return frozenset(self.memberships.values_list("department_id", flat=True))

    def has_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    def on_leave(self, day) -> bool:
        return self.leaves.filter(start__lte=day, end__gte=day).exists()

    def ordered_roles(self) -> list[Role]:
        return [role for role in Role if role in self.roles]

    def home_url(self) -> str:
        for role in self.ordered_roles():
            if role in ROLE_HOME:
                return reverse(ROLE_HOME[role])
        return reverse("no_role")


class RoleGrant(models.Model):
    """One role held by one person; a person may hold several."""

    user = models.ForeignKey(
        User, verbose_name=_("person"), on_delete=models.CASCADE, related_name="role_grants"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="rolegrant_once_per_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="rolegrant_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.get_role_display()}"


class Membership(models.Model):
    user = models.ForeignKey(
        User, verbose_name=_("person"), on_delete=models.CASCADE, related_name="memberships"
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    title = models.CharField(_("title"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "department"], name="membership_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.department}"


class Leave(models.Model):
    """A person away from work: assignment skips them, and a grid's deputy covers."""

    user = models.ForeignKey(
        User, verbose_name=_("person"), on_delete=models.CASCADE, related_name="leaves"
    )
    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["-start"]
        verbose_name = _("leave")
        verbose_name_plural = _("leaves")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="leave_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.start} – {self.end}"
