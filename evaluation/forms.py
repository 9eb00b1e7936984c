from django import forms
from django.utils.translation import gettext_lazy as _

from stats.forms import DrillForm, FilterForm

from .scoring import LEVELS


class EvaluationForm(FilterForm):
    level = forms.ChoiceField(
        label=_("Areas"),
        choices=[
            ("street", _("Streets")),
            ("community", _("Communities")),
            ("grid", _("Grids")),
        ],
        required=False,
    )

    def clean(self):
        data = super().clean()
        if data.get("level") not in LEVELS:
            data["level"] = "street"
        return data


class CaseExportForm(DrillForm):
    format = forms.ChoiceField(
        label=_("Format"), choices=[("csv", "CSV"), ("xlsx", "XLSX")], initial="csv"
    )

    def params(self) -> dict:
        """The cleaned filters in a form that can be stored as JSON."""
        data = self.cleaned_data
        return {
            "figure": data["figure"],
            "area": data.get("area"),
            "grid": data.get("grid"),
            "start": data["start"].isoformat(),
            "end": data["end"].isoformat(),
            "category": data.get("category"),
            "age": data.get("age"),
            "department": data.get("department"),
        }
