"""The map's filters, read from the query string of the page and of every layer request."""

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import OPEN_STAGES, Category, Source, Stage
from org.models import Department

OPEN = "open"


def category_choices() -> list[tuple[str, str]]:
    """The category tree as (full code, indented label): kinds, majors, minors."""
    from cases.models import Kind

    choices: list[tuple[str, str]] = [("", _("All categories"))]
    categories = Category.objects.filter(is_active=True).order_by("full_code")
    by_kind: dict[str, list[Category]] = {}
    for category in categories:
        by_kind.setdefault(category.kind, []).append(category)
    for kind, label in Kind.choices:
        choices.append((kind, str(label)))
        for category in by_kind.get(kind, []):
            indent = "\u00a0\u00a0" * category.level
            choices.append(
                (category.full_code, f"{indent}{category.full_code} {category.display_name()}")
            )
    return choices


class MapFilterForm(forms.Form):
    # A full code of the tree ("E", "E01", "E0102"); checked against the table only when
    # given: every tile request validates this form.
    category = forms.RegexField(
        label=_("Category"),
        regex=r"^[CE]([0-9]{2}){0,5}$",
        required=False,
        error_messages={"invalid": _("Choose a category of the list.")},
    )
    stage = forms.MultipleChoiceField(
        label=_("Stage"),
        required=False,
        choices=[(OPEN, _("Open cases")), *Stage.choices],
    )
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.filter(is_active=True),
        required=False,
        empty_label=_("All departments"),
    )
    source = forms.ChoiceField(
        label=_("Source"), required=False, choices=[("", _("All sources")), *Source.choices]
    )
    since = forms.DateField(label=_("Reported from"), required=False)
    until = forms.DateField(label=_("Reported until"), required=False)
    overdue = forms.BooleanField(
        label=_("Overdue only"),
        required=False,
        help_text=_("The whole case's deadline has passed (cases on hold included)."),
    )

    def clean_category(self) -> str:
        code = self.cleaned_data["category"]
        if len(code) > 1 and not Category.objects.filter(full_code=code).exists():
            raise forms.ValidationError(_("Choose a category of the list."))
        return code

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end of the period is before its start."))
        return data

    def stages(self) -> list[str]:
        """The stages chosen. "open" keeps OPEN_STAGES' own order: the same list as the
        predicate of the partial index on open cases' points (maps migration 0002), so
        PostgreSQL sees the index answers the condition by itself."""
        chosen = self.cleaned_data.get("stage") or []
        if chosen == [OPEN]:
            return [str(stage) for stage in OPEN_STAGES]
        stages: set[str] = set()
        for value in chosen:
            stages.update(OPEN_STAGES if value == OPEN else [value])
        return sorted(stages)

    def period(self) -> tuple[datetime.datetime | None, datetime.datetime | None]:
        """The reporting period as aware moments: from the first day's start to the end
        of the last day, in the city's time zone."""
        zone = timezone.get_current_timezone()
        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        start = datetime.datetime.combine(since, datetime.time(), zone) if since else None
        end = (
            datetime.datetime.combine(until + datetime.timedelta(days=1), datetime.time(), zone)
            if until
            else None
        )
        return start, end

    def key(self) -> str:
        """A canonical text of the filters, for cache keys."""
        data = self.cleaned_data
        parts = [
            data.get("category") or "",
            ",".join(self.stages()),
            str(data["department"].pk) if data.get("department") else "",
            data.get("source") or "",
            data["since"].isoformat() if data.get("since") else "",
            data["until"].isoformat() if data.get("until") else "",
            "1" if data.get("overdue") else "",
        ]
        return "|".join(parts)

    def first_error(self) -> tuple[str, str]:
        field, errors = next(iter(self.errors.items()))
        return errors[0], ("" if field == "__all__" else field)
