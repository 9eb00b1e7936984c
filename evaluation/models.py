"""Evaluation weights and grades (data an administrator sets), and export jobs."""

import secrets
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Subject(models.TextChoices):
    """What is evaluated: a place, a department, or a post (岗位)."""

    AREA = "area", pgettext_lazy("place", "Area")
    DEPARTMENT = "department", _("Department")
    GRID_WORKER = "grid_worker", _("Grid worker post")
    DISPATCHER = "dispatcher", _("Dispatcher post")
    SHIFT_LEADER = "shift_leader", _("Shift leader post")


class Kpi(models.TextChoices):
    """The indicators a score can weigh; formulas in evaluation/scoring.py."""

    CLOSURE = "closure", _("Closure rate")
    ON_TIME = "on_time", _("On-time closure rate")
    PUBLIC = "public", _("Supervision-report rate (lower is better)")
    REWORK = "rework", _("Rework rate (lower is better)")
    RETURN = "return", _("Return rate (lower is better)")
    ACCURATE_FILING = "accurate_filing", _("Accurate filing rate")
    ACCURATE_DISPATCH = "accurate_dispatch", _("Accurate dispatch rate")


class KpiWeight(models.Model):
    subject = models.CharField(_("evaluated"), max_length=20, choices=Subject.choices)
    kpi = models.CharField(_("indicator"), max_length=20, choices=Kpi.choices)
    weight = models.DecimalField(_("weight (%)"), max_digits=5, decimal_places=2)

    class Meta:
        verbose_name = _("indicator weight")
        verbose_name_plural = _("indicator weights")
        ordering = ["subject", "kpi"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "kpi"], name="kpiweight_once"),
            models.CheckConstraint(condition=models.Q(weight__gte=0), name="kpiweight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_subject_display()}: {self.get_kpi_display()} {self.weight}"


class Grade(models.Model):
    """A grade and the lowest score that earns it (A ≥ 90, ...)."""

    letter = models.CharField(_("grade"), max_length=4, unique=True)
    minimum = models.DecimalField(_("lowest score"), max_digits=5, decimal_places=2)

    class Meta:
        verbose_name = _("grade")
        verbose_name_plural = _("grades")
        ordering = ["-minimum"]

    def __str__(self) -> str:
        return f"{self.letter} ≥ {self.minimum}"


def export_dir() -> Path:
    return Path(settings.VAR_DIR) / "exports"


def new_token() -> str:
    return secrets.token_urlsafe(24)


class ExportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("export job", "Waiting")
        RUNNING = "running", pgettext_lazy("export job", "Running")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE
    )
    kind = models.CharField(_("content"), max_length=20, default="cases")
    format = models.CharField(_("format"), max_length=4, choices=Format.choices)
    params = models.JSONField(_("filters"), default=dict)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    total = models.IntegerField(_("rows expected"), default=0)
    rows = models.IntegerField(_("rows written"), default=0)
    token = models.CharField(max_length=40, default=new_token, editable=False)
    filename = models.CharField(_("file"), max_length=200, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.format} #{self.pk}"

    @property
    def path(self) -> Path:
        return export_dir() / f"{self.pk}-{self.token}.{self.format}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, 100 * self.rows // self.total) if self.total else 0
