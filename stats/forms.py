import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .figures import AGE_BUCKETS, FIGURES

DEFAULT_DAYS = 30
LONGEST_DAYS = 400


class FilterForm(forms.Form):
    """Place and period of the dashboard, and of the list behind a figure."""

    area = forms.IntegerField(required=False, widget=forms.HiddenInput)
    grid = forms.IntegerField(required=False, widget=forms.HiddenInput)
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or end - datetime.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError(_("The period must start before it ends."))
        if (end - start).days >= LONGEST_DAYS:
            raise forms.ValidationError(
                _("Choose a period of at most %(days)d days.") % {"days": LONGEST_DAYS}
            )
        data["start"], data["end"] = start, end
        # A date taken by default shows in its field, not only in the line above the
        # figures; what was typed, even wrongly, stays as typed.
        missing = [name for name in ("start", "end") if not self.data.get(name)]
        if missing:
            shown = self.data.copy()
            for name in missing:
                shown[name] = data[name].isoformat()
            self.data = shown
        return data


class DrillForm(FilterForm):
    figure = forms.ChoiceField(choices=[(f, f) for f in FIGURES])
    category = forms.IntegerField(required=False)
    age = forms.TypedChoiceField(
        choices=[(str(i), str(i)) for i in range(len(AGE_BUCKETS))],
        coerce=int,
        required=False,
        empty_value=None,
    )
    department = forms.IntegerField(required=False)
    page = forms.IntegerField(required=False, min_value=1)
