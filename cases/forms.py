import math

from django import forms
from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from org.models import Department

from .models import Category, FilingCondition, Source, Supervision, Urgency, validate_phone
from .photos import process_photo
from .workflow import Transition


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several photos from the camera or the gallery, each checked and cleaned."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": "image/*", "capture": "environment"})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        processed, errors = [], []
        for upload in files:
            try:
                processed.append(process_photo(upload))
            except ValidationError as error:
                errors.extend(error.messages)
        if errors:
            raise ValidationError(errors)
        return processed


def leaf_categories():
    return (
        Category.objects.filter(is_active=True, children__isnull=True, parent__isnull=False)
        .select_related("parent")
        .order_by("full_code")
    )


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.full_code} {obj.parent.display_name()} · {obj.display_name()}"


class ReportForm(forms.Form):
    category = CategoryChoiceField(label=_("Category"), queryset=leaf_categories())
    description = forms.CharField(
        label=_("What is wrong"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.NORMAL)
    address = forms.CharField(label=_("Address or landmark"), max_length=255, required=False)
    lon = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    photos = PhotosField(label=_("Photos"), required=False)
    self_handled = forms.BooleanField(label=_("I fixed it on the spot"), required=False)
    # Set when the reporter saw the possible duplicates and still files a new case.
    confirm_new = forms.BooleanField(required=False, widget=forms.HiddenInput)
    # This report's own key, made when the empty form is shown and kept while it is
    # corrected: sent twice, it still makes one case.
    submission = forms.UUIDField(required=False, widget=forms.HiddenInput)
    # Hotline, leader and video reports are registered by the centre.
    source = forms.ChoiceField(label=_("Source"), choices=Source.choices, initial=Source.PATROL)
    citizen_name = forms.CharField(label=_("Citizen's name"), max_length=100, required=False)
    citizen_phone = forms.CharField(
        label=_("Citizen's phone"), max_length=30, required=False, validators=[validate_phone]
    )

    def __init__(self, *args, centre: bool = False, joining: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.centre = centre
        if centre:
            self.fields["source"].choices = [c for c in Source.choices if c[0] != Source.PATROL]
            self.fields["source"].initial = Source.HOTLINE
            del self.fields["self_handled"]
        else:
            del self.fields["source"], self.fields["citizen_name"], self.fields["citizen_phone"]
            # A new case needs its photo; a report added to a case already open may come
            # without one.
            self.fields["photos"].required = not joining

    def clean(self):
        data = super().clean()
        lon, lat = data.get("lon"), data.get("lat")
        if lon is None or lat is None:
            # No pin on the map: take the position the camera recorded, if any.
            exif = next((p.exif_point for p in data.get("photos") or [] if p.exif_point), None)
            if exif is None:
                self.add_error(
                    None,
                    _(
                        "Set the position: find the place the caller names, then drag the pin"
                        " to the spot or tap the map there."
                    )
                    if self.centre
                    else _("Set the position: allow location access, or drag the pin on the map."),
                )
            else:
                data["point"] = exif
        else:
            data["point"] = Point(lon, lat, srid=4326)
        point = data.get("point")
        km = km_outside_city(point) if point is not None else None
        if km is not None and km > settings.REPORT_MAX_KM_OUTSIDE:
            # A point outside every grid goes to the desk, but one this far is a slip of
            # the pin (or a caller's place in another city): not a case of this city.
            self.add_error(
                None,
                _("This position is about %(km)d km outside the city's districts: check the pin.")
                % {"km": km},
            )
        return data


def km_outside_city(point: Point) -> float | None:
    """How far ``point`` (WGS84) lies outside the box around the city's districts, in
    kilometres (0 inside it); None before any district is imported."""
    from grids.models import city_extent

    extent = city_extent()
    if extent is None:
        return None
    west, south, east, north = extent
    dx = max(west - point.x, 0, point.x - east) * 111.32 * math.cos(math.radians(point.y))
    dy = max(south - point.y, 0, point.y - north) * 110.57
    return math.hypot(dx, dy)


class ActionForm(forms.Form):
    """The input one transition asks for, built from its ``inputs``."""

    # The version a form was sent on, when it is shown again on a newer one (the case
    # changed meanwhile): the outbox finds its kept copy under that version.
    stale_version: int | None = None
    version = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, transition: Transition, case, **kwargs):
        super().__init__(*args, **kwargs)
        self.transition = transition
        self.fields["reason"].required = transition.needs_reason
        if not transition.needs_reason:
            self.fields["reason"].label = _("Note (optional)")
        inputs = transition.inputs
        if "condition" in inputs:
            self.fields["condition"] = forms.ModelChoiceField(
                label=_("Filing condition"),
                queryset=FilingCondition.objects.filter(category=case.category, is_active=True),
                empty_label=None,
            )
        if "department" in inputs:
            suggested = case.category.default_department_id
            self.fields["department"] = forms.ModelChoiceField(
                label=_("Department"),
                queryset=Department.objects.filter(is_active=True).order_by("kind", "code"),
                initial=suggested,
            )
        if "hours" in inputs:
            self.fields["hours"] = forms.DecimalField(
                label=_("Extra working hours"), min_value=0.5, max_value=2000, decimal_places=1
            )
        if "level" in inputs:
            self.fields["level"] = forms.TypedChoiceField(
                label=_("Level"), choices=Supervision.choices[1:], coerce=int
            )
        if "into" in inputs:
            self.fields["into"] = forms.CharField(
                label=_("Case number to merge into"), max_length=24
            )
        if "photos" in inputs:
            required = transition.action in ("report_done", "check_pass", "check_fail")
            self.fields["photos"] = PhotosField(label=_("Photos"), required=required)

    def data_for_workflow(self) -> dict:
        data = {}
        for name in ("condition", "department"):
            if self.cleaned_data.get(name) is not None:
                data[name] = self.cleaned_data[name].pk
        for name in ("hours", "level"):
            if self.cleaned_data.get(name) is not None:
                data[name] = (
                    str(self.cleaned_data[name]) if name == "hours" else self.cleaned_data[name]
                )
        return data


class DryRunForm(forms.Form):
    lon = forms.FloatField(label=_("Longitude"), min_value=-180, max_value=180)
    lat = forms.FloatField(label=_("Latitude"), min_value=-90, max_value=90)
    category = CategoryChoiceField(label=_("Category"), queryset=leaf_categories())
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.NORMAL)
