import contextlib
import tempfile
from pathlib import Path

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .importer import FIELDS, REQUIRED, SUFFIXES, ImportFailed, read_layers
from .models import ImportJob


@contextlib.contextmanager
def local_path(upload):
    """A path GDAL can open for an uploaded file, keeping its suffix (GDAL and the importer
    go by it). Large uploads already sit in a temporary file; small ones are in memory."""
    if hasattr(upload, "temporary_file_path"):
        yield Path(upload.temporary_file_path())
        return
    with tempfile.NamedTemporaryFile(suffix=Path(upload.name).suffix.lower()) as copy:
        for chunk in upload.chunks():
            copy.write(chunk)
        copy.flush()
        yield Path(copy.name)


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("The file holds"), choices=ImportJob.Kind.choices)
    upload = forms.FileField(
        label=_("GIS file"),
        help_text=_(
            "GeoJSON (.geojson, .json), a zipped Shapefile (.zip) or a GeoPackage (.gpkg), "
            "in any coordinate system."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(SUFFIXES)}),
    )

    def clean_upload(self):
        upload = self.cleaned_data["upload"]
        if Path(upload.name).suffix.lower() not in SUFFIXES:
            raise forms.ValidationError(
                _(
                    "%(name)s is not a file GridGov can import: choose a GeoJSON (.geojson, "
                    ".json), a zipped Shapefile (.zip) or a GeoPackage (.gpkg)."
                ),
                params={"name": upload.name},
            )
        if upload.size > settings.GRID_IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is %(size)s; files up to %(limit)s can be imported."),
                params={
                    "size": filesizeformat(upload.size),
                    "limit": filesizeformat(settings.GRID_IMPORT_MAX_BYTES),
                },
            )
        with local_path(upload) as path:
            try:
                self.layers = read_layers(path)
            except ImportFailed as error:
                raise forms.ValidationError(str(error)) from None
        return upload


LABELS = {
    "code": _("Code"),
    "name": _("Name"),
    "parent": _("Parent code"),
    "level": _("Level"),
    "land_use": _("Land use"),
    "management_level": _("Management level"),
}
HELP = {
    "parent": _("Optional: the parent is also read from the code."),
    "level": _("Optional: district, street or community (区, 街道, 社区); else from the code."),
    "land_use": _("Optional: residential, commercial, mixed, public, … (default mixed)."),
    "management_level": _("Optional: 1, 2 or 3 (default 2)."),
}
# Column names seen in city GIS data, lower case, best first.
GUESSES = {
    "code": ("code", "grid_code", "gridcode", "grid_id", "wgbm", "编码", "网格编码", "代码"),
    "name": ("name", "mc", "名称"),
    "parent": (
        "parent",
        "parent_code",
        "comm_code",
        "community_code",
        "community",
        "sqbm",
        "社区编码",
        "上级编码",
    ),
    "level": ("level", "jb", "级别"),
    "land_use": ("land_use", "landuse", "用途"),
    "management_level": ("management_level", "mgmt_level", "gldj", "管理等级"),
}


def guess_column(name: str, columns: list[str]) -> str:
    by_lower = {column.lower(): column for column in columns}
    return next((by_lower[g] for g in GUESSES[name] if g in by_lower), "")


class ImportColumnsForm(forms.Form):
    """Which column of the chosen layer holds each attribute, with the obvious ones
    chosen already."""

    repair = forms.BooleanField(
        label=_("Repair invalid geometries with MakeValid"),
        required=False,
        help_text=_("Without this, a file with an invalid polygon is rejected."),
    )

    def __init__(self, *args, job: ImportJob, layer: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = job.kind
        self.fields["layer"] = forms.TypedChoiceField(
            coerce=int,
            choices=[(n, item["name"]) for n, item in enumerate(job.layers)],
            initial=layer,
            widget=forms.HiddenInput,
        )
        columns = job.layers[layer]["columns"]
        for name in FIELDS[job.kind]:
            required = name in REQUIRED[job.kind]
            empty = _("Choose a column") if required else _("(none)")
            self.fields[name] = forms.ChoiceField(
                label=LABELS[name],
                choices=[("", empty)] + [(column, column) for column in columns],
                required=required,
                initial=guess_column(name, columns),
                help_text=HELP.get(name, ""),
            )
        self.order_fields(["layer", *FIELDS[job.kind], "repair"])
        if not job.layers[layer]["srs"]:
            self.fields["assume_wgs84"] = forms.BooleanField(
                label=_("The coordinates are WGS84 longitude and latitude"),
                help_text=_("The file does not say which coordinate system it uses."),
                error_messages={
                    "required": _(
                        "GridGov can only read a file without a coordinate system as WGS84 "
                        "longitude and latitude. Confirm that, or export the file with its "
                        "coordinate system (a .prj file for a Shapefile)."
                    )
                },
            )

    def submission(self) -> dict:
        """The arguments of ``ImportJob.submit``."""
        data = self.cleaned_data
        return {
            "layer": data["layer"],
            "mapping": {name: data[name] for name in FIELDS[self.kind] if data[name]},
            "repair": data["repair"],
            "assume_wgs84": data.get("assume_wgs84", False),
        }
