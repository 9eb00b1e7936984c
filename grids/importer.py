"""Import areas and unit grids from GeoJSON, zipped Shapefiles and GeoPackages.

Everything is read and checked before anything is written; one problem anywhere and the
database is left as it was. The report names each offending feature by its 1-based
position in the layer, the way GIS desktop tools number them.
"""

import datetime
import functools
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.gis.gdal import CoordTransform, DataSource, GDALException, SRSException
from django.contrib.gis.gdal.layer import Layer
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .models import Area, GridAssignment, ImportJob, UnitGrid
from .services import (
    WGS84,
    GridError,
    area_m2,
    grids_retire,
    local_metric_srs,
    polygonal,
    to_metric,
)

Kind = ImportJob.Kind

SUFFIXES = (".geojson", ".json", ".zip", ".gpkg")
DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".zip": "ESRI Shapefile", ".gpkg": "GPKG"}
# A zip may unpack to at most this many times the upload limit: a zip bomb is refused unread.
ZIP_EXPANSION = 10

# The attributes an import reads, per kind, and which of them a file must provide.
FIELDS: dict[str, tuple[str, ...]] = {
    Kind.AREAS: ("code", "name", "parent", "level"),
    Kind.GRIDS: ("code", "parent", "land_use", "management_level"),
}
REQUIRED: dict[str, tuple[str, ...]] = {Kind.AREAS: ("code", "name"), Kind.GRIDS: ("code",)}

LEVEL_BY_LENGTH = {length: level for level, length in Area.CODE_LENGTH.items()}
# Level words found in Chinese administrative data, besides GridGov's own values.
LEVEL_WORDS: dict[str, str] = {
    "区": Area.Level.DISTRICT,
    "县": Area.Level.DISTRICT,
    "区县": Area.Level.DISTRICT,
    "街道": Area.Level.STREET,
    "乡镇": Area.Level.STREET,
    "镇": Area.Level.STREET,
    "乡": Area.Level.STREET,
    "社区": Area.Level.COMMUNITY,
    "村": Area.Level.COMMUNITY,
}

ProgressCallback = Callable[[int], None]


class ImportFailed(GridError):
    """The file cannot be imported at all (unreadable, a column missing, no coordinate
    system); nothing was written."""


@dataclass
class ImportResult:
    """``problems`` lists {"feature", "code", "problem"}; when it is empty the import was
    written: ``created`` new rows and ``replaced`` existing ones (areas: updated in place,
    grids: the old version kept as history)."""

    problems: list[dict] = field(default_factory=list)
    created: int = 0
    replaced: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Feature:
    number: int
    code: str
    values: dict[str, str]
    geom: MultiPolygon | None = None
    parent: str = ""
    level: str = ""


class _Report:
    def __init__(self) -> None:
        self.problems: list[dict] = []

    def add(self, feature: _Feature, problem: str) -> None:
        self.problems.append({"feature": feature.number, "code": feature.code, "problem": problem})

    def sorted(self) -> list[dict]:
        return sorted(self.problems, key=lambda p: p["feature"])


def _datasets(path: Path) -> list[str]:
    """What to hand GDAL: the file itself, or each Shapefile inside a zip."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ImportFailed(
            _(
                "GridGov reads GeoJSON (.geojson, .json), zipped Shapefiles (.zip) and "
                "GeoPackages (.gpkg)."
            )
        )
    if suffix != ".zip":
        return [str(path)]
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise ImportFailed(_("This is not a readable zip file.")) from None
    if sum(m.file_size for m in members) > ZIP_EXPANSION * settings.GRID_IMPORT_MAX_BYTES:
        raise ImportFailed(_("The zip file unpacks to too much data."))
    shapefiles = [
        m.filename
        for m in members
        if m.filename.lower().endswith(".shp") and not m.filename.startswith("__MACOSX/")
    ]
    if not shapefiles:
        raise ImportFailed(_("The zip file holds no Shapefile (.shp)."))
    return [f"/vsizip/{path}/{name}" for name in shapefiles]


def _layers(path: str | Path) -> list[Layer]:
    path = Path(path)
    expected = DRIVERS.get(path.suffix.lower())
    layers: list[Layer] = []
    for name in _datasets(path):
        try:
            source = DataSource(name)
        except GDALException:
            raise ImportFailed(
                _("GDAL cannot read this file as %(format)s.") % {"format": expected}
            ) from None
        if source.driver.name != expected:
            raise ImportFailed(
                _("This file is %(found)s, not %(format)s.")
                % {"found": source.driver.name, "format": expected}
            )
        # Each Layer keeps its DataSource open. Tables without geometry (a GeoPackage may
        # hold some) are not offered, nor layers without a feature (nothing to import, and
        # no columns to choose from).
        for index in range(source.layer_count):
            if source[index].geom_type.name != "None":
                layers.append(source[index])
    if not layers:
        raise ImportFailed(_("The file holds no layer."))
    layers = [layer for layer in layers if len(layer)]
    if not layers:
        raise ImportFailed(_("The file holds no feature: there is nothing to import."))
    return layers


def _srs_name(layer: Layer) -> str:
    try:
        srs = layer.srs
    except (GDALException, SRSException):
        return ""
    return (srs.name or "unnamed") if srs is not None else ""


def read_layers(path: str | Path) -> list[dict]:
    """The layers of a file with their attribute names, feature counts and coordinate
    system names ("" when the file does not say); raises ImportFailed if unreadable."""
    return [
        {
            "name": layer.name,
            "columns": list(layer.fields),
            "count": len(layer),
            "srs": _srs_name(layer),
        }
        for layer in _layers(path)
    ]


def _text(value) -> str:
    """An attribute as text: codes stored as numbers lose their ".0"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _geometry(ogr_feature, transform: CoordTransform | None, repair: bool):
    """(WGS84 MultiPolygon, None) or (None, the problem)."""
    try:
        geom = ogr_feature.geom
    except GDALException:
        return None, _("has no geometry")
    # Heights and measures mean nothing to a boundary; the columns are two-dimensional.
    geom.set_3d(False)
    geom.set_measured(False)
    if geom.geom_type.name not in ("Polygon", "MultiPolygon"):
        return None, _("is a %(type)s, not a polygon") % {"type": geom.geom_type.name}
    if transform is not None:
        try:
            geom.transform(transform)
        except GDALException:
            return None, _("cannot be transformed to WGS84")
    try:
        geos = GEOSGeometry(geom.wkb, srid=4326)
    except (GEOSException, ValueError):
        return None, _("has a geometry that cannot be read")
    if geos.empty:
        return None, _("has an empty geometry")
    xmin, ymin, xmax, ymax = geos.extent
    if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        return None, _(
            "lies outside longitude -180..180 / latitude -90..90: is the coordinate system right?"
        )
    if not geos.valid:
        reason = geos.valid_reason
        if not repair:
            return None, _(
                "has an invalid geometry (%(reason)s); choose “repair” to fix it with MakeValid"
            ) % {"reason": reason}
        repaired = polygonal(geos.make_valid())  # type: ignore[attr-defined]
        if repaired is None or not repaired.valid:
            return None, _("has an invalid geometry (%(reason)s) that repair cannot fix") % {
                "reason": reason
            }
        geos = repaired
    if geos.geom_type == "Polygon":
        geos = MultiPolygon(geos, srid=4326)
    if geos.area <= 0:
        return None, _("has no area")
    return geos, None


@functools.cache
def _names(choices) -> dict[str, str]:
    names = {}
    for stored, label in choices.choices:
        names[str(stored).lower()] = stored
        for language in ("en", "zh-hans"):
            with translation.override(language):
                names[str(label).lower()] = stored
    return names


def _choice(value: str, choices) -> str | None:
    """The stored value for a value or label (in English or Chinese) of ``choices``."""
    return _names(choices).get(value.strip().lower())


def _management_level(value: str) -> int | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number in (1, 2, 3) else None


def _read(
    layer: Layer,
    *,
    kind: str,
    mapping: dict[str, str],
    transform: CoordTransform | None,
    repair: bool,
    report: _Report,
    progress: ProgressCallback,
) -> list[_Feature]:
    """Every feature with its attributes and geometry; problems of a single feature are
    reported here, problems between features later."""
    total = max(1, len(layer))
    features = []
    seen: dict[str, int] = {}
    for number, ogr_feature in enumerate(layer, start=1):
        values = {name: _text(ogr_feature.get(column)) for name, column in mapping.items()}
        feature = _Feature(number=number, code=values.get("code", ""), values=values)
        features.append(feature)
        feature.geom, problem = _geometry(ogr_feature, transform, repair)
        if problem:
            report.add(feature, problem)
        for problem in _attribute_problems(feature, kind):
            report.add(feature, problem)
        if feature.code:
            if feature.code in seen:
                report.add(
                    feature,
                    _("code %(code)s is also used by feature %(other)d")
                    % {"code": feature.code, "other": seen[feature.code]},
                )
            else:
                seen[feature.code] = number
        if number % 20 == 0:
            progress(60 * number // total)
    progress(60)
    return features


def _attribute_problems(feature: _Feature, kind: str) -> list[str]:
    """Check the code, parent and other attributes; sets ``feature.parent`` and ``.level``."""
    code, values = feature.code, feature.values
    if not code:
        return [_("has no code")]
    if not code.isdigit():
        return [_("code %(code)s is not all digits") % {"code": code}]
    problems = []
    parent = values.get("parent", "")
    if kind == Kind.GRIDS:
        digits = settings.GRID_SEQUENCE_DIGITS
        if len(code) != 12 + digits or int(code[12:]) == 0:
            return [
                _(
                    "a grid code has %(length)d digits: the 12-digit community code and a "
                    "%(digits)d-digit number from 1"
                )
                % {"length": 12 + digits, "digits": digits}
            ]
        feature.parent = code[:12]
        land_use = values.get("land_use", "")
        if land_use and _choice(land_use, UnitGrid.LandUse) is None:
            problems.append(
                _("land use %(value)s is not one of: %(choices)s")
                % {"value": land_use, "choices": ", ".join(UnitGrid.LandUse.values)}
            )
        level = values.get("management_level", "")
        if level and _management_level(level) is None:
            problems.append(
                _("management level must be 1, 2 or 3, not %(value)s") % {"value": level}
            )
    else:
        feature.level = LEVEL_BY_LENGTH.get(len(code), "")
        if not feature.level:
            return [_("an area code has 6 (district), 9 (street) or 12 (community) digits")]
        given = values.get("level", "")
        if given:
            stated = LEVEL_WORDS.get(given) or _choice(given, Area.Level)
            if stated != feature.level:
                problems.append(
                    _("level %(value)s does not match a %(length)d-digit code")
                    % {"value": given, "length": len(code)}
                )
        parent_level = Area.PARENT_LEVEL.get(Area.Level(feature.level))
        if parent_level is not None:
            feature.parent = code[: Area.CODE_LENGTH[parent_level]]
        name = values.get("name", "")
        limit = Area._meta.get_field("name").max_length
        if not name:
            problems.append(_("has no name"))
        elif limit and len(name) > limit:
            problems.append(_("name is longer than %(limit)d characters") % {"limit": limit})
    if parent and feature.parent and parent != feature.parent:
        problems.append(
            _("code %(code)s does not start with its parent's code %(parent)s")
            % {"code": code, "parent": parent}
            if not code.startswith(parent)
            else _("the parent of %(code)s is %(expected)s, not %(parent)s")
            % {"code": code, "expected": feature.parent, "parent": parent}
        )
    return problems


def _check_area_parents(features: list[_Feature], report: _Report) -> None:
    # A parent's code has the length of its level, so finding the code is enough.
    known = {f.code for f in features if f.level}
    wanted = {f.parent for f in features if f.parent} - known
    known |= set(Area.objects.filter(code__in=wanted).values_list("code", flat=True))
    for feature in features:
        if feature.parent and feature.parent not in known:
            report.add(
                feature,
                _("parent %(parent)s is neither in this file nor in GridGov")
                % {"parent": feature.parent},
            )


def _check_grids(
    features: list[_Feature],
    *,
    valid_from: datetime.date,
    report: _Report,
    progress: ProgressCallback,
) -> None:
    """Communities known, no grid outside its community or over another grid, and any grid
    it replaces old enough to be replaced."""
    outside_tolerance = settings.GRID_IMPORT_OUTSIDE_TOLERANCE
    overlap_tolerance = settings.GRID_IMPORT_OVERLAP_TOLERANCE_M2
    codes = {f.code for f in features if f.code}
    communities = {
        a.code: a for a in Area.objects.filter(code__in={f.parent for f in features if f.parent})
    }
    current = {
        g.code: g
        for g in UnitGrid.objects.filter(code__in=codes, valid_to__isnull=True).only(
            "code", "valid_from"
        )
    }
    groups: dict[str, list[_Feature]] = defaultdict(list)
    for feature in features:
        if not feature.parent:
            continue
        community = communities.get(feature.parent)
        if community is None:
            report.add(
                feature,
                _("community %(parent)s is not in GridGov: import the areas first")
                % {"parent": feature.parent},
            )
            continue
        if community.level != Area.Level.COMMUNITY:
            report.add(
                feature,
                _("%(parent)s is a %(level)s, not a community")
                % {"parent": feature.parent, "level": community.get_level_display()},
            )
            continue
        old = current.get(feature.code)
        if old is not None and old.valid_from >= valid_from:
            report.add(
                feature,
                _("grid %(code)s came into force on %(day)s; a new version can only start later")
                % {"code": feature.code, "day": old.valid_from.isoformat()},
            )
        if feature.geom is not None:
            groups[feature.parent].append(feature)

    for done, (code, members) in enumerate(sorted(groups.items()), start=1):
        community = communities[code]
        centre = community.boundary.centroid
        # One projection per community, so that its grids are compared in one metric plane.
        srs = local_metric_srs(centre.x, centre.y)
        boundary = to_metric(community.boundary, srs)
        inside = boundary.prepared
        shapes = [(f, to_metric(f.geom, srs)) for f in members if f.geom is not None]
        for feature, shape in shapes:
            if inside.contains(shape):
                continue
            outside = shape.difference(boundary).area
            if outside > outside_tolerance * shape.area:
                report.add(
                    feature,
                    _("lies %(area).0f m² (%(percent).1f%%) outside community %(community)s")
                    % {
                        "area": outside,
                        "percent": 100 * outside / shape.area,
                        "community": community.code,
                    },
                )
        for i, (first, first_shape) in enumerate(shapes):
            for second, second_shape in shapes[i + 1 :]:
                overlap = _overlap(first_shape, second_shape)
                if overlap > overlap_tolerance:
                    report.add(
                        second,
                        _("overlaps feature %(other)d (%(other_code)s) by %(area).1f m²")
                        % {"other": first.number, "other_code": first.code, "area": overlap},
                    )
        staying = (
            UnitGrid.objects.valid_on(valid_from)
            .filter(community=community)
            .exclude(code__in=codes)
            .only("code", "boundary")
        )
        for grid in staying:
            grid_shape = to_metric(grid.boundary, srs)
            for feature, shape in shapes:
                overlap = _overlap(shape, grid_shape)
                if overlap > overlap_tolerance:
                    report.add(
                        feature,
                        _(
                            "overlaps grid %(other_code)s, which is in force and not in this "
                            "file, by %(area).1f m²"
                        )
                        % {"other_code": grid.code, "area": overlap},
                    )
        progress(60 + 30 * done // len(groups))


def _overlap(a: GEOSGeometry, b: GEOSGeometry) -> float:
    ax0, ay0, ax1, ay1 = a.extent
    bx0, by0, bx1, by1 = b.extent
    if ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0:
        return 0.0
    return a.intersection(b).area


def _write_areas(features: list[_Feature]) -> tuple[int, int]:
    """Upsert by code, parents first."""
    codes = [f.code for f in features]
    parents = {f.parent for f in features if f.parent}
    known = {a.code: a for a in Area.objects.select_for_update().filter(code__in=codes)}
    known.update({a.code: a for a in Area.objects.filter(code__in=parents - set(known))})
    created = replaced = 0
    for feature in sorted(features, key=lambda f: len(f.code)):
        assert feature.geom is not None  # a feature without one was reported
        parent = known.get(feature.parent) if feature.parent else None
        if feature.parent and parent is None:
            raise ImportFailed(
                _("Area %(code)s was deleted while importing.") % {"code": feature.parent}
            )
        area = known.get(feature.code)
        if area is None:
            area = Area(code=feature.code)
            created += 1
        else:
            replaced += 1
        area.name = feature.values["name"]
        area.level = feature.level
        area.parent = parent
        area.boundary = feature.geom
        area.save()
        known[area.code] = area
    return created, replaced


def _write_grids(features: list[_Feature], valid_from: datetime.date) -> tuple[int, int]:
    """New versions of grids from ``valid_from``. A current grid with the same code goes out
    of force that day and stays as history; its workers move to the new version."""
    communities = {
        a.code: a
        for a in Area.objects.filter(
            code__in={f.parent for f in features}, level=Area.Level.COMMUNITY
        )
    }
    old = UnitGrid.objects.select_for_update().filter(
        code__in=[f.code for f in features], valid_to__isnull=True
    )
    old_by_pk = {grid.pk: grid.code for grid in old}
    staying_on = list(
        GridAssignment.objects.filter(grid_id__in=old_by_pk, end__isnull=True).select_related(
            "worker"
        )
    )
    grids_retire(UnitGrid.objects.filter(pk__in=old_by_pk), valid_from)
    grids = []
    for feature in features:
        assert feature.geom is not None  # a feature without one was reported
        community = communities.get(feature.parent)
        if community is None:
            raise ImportFailed(
                _("Community %(code)s was deleted while importing.") % {"code": feature.parent}
            )
        values = feature.values
        grid = UnitGrid(
            code=feature.code,
            community=community,
            boundary=feature.geom,
            area_m2=area_m2(feature.geom),
            valid_from=valid_from,
        )
        # Both were checked: an unknown land use or level was reported.
        if values.get("land_use"):
            grid.land_use = _choice(values["land_use"], UnitGrid.LandUse) or grid.land_use
        if values.get("management_level"):
            level = _management_level(values["management_level"])
            grid.management_level = level or grid.management_level
        grids.append(grid)
    UnitGrid.objects.bulk_create(grids)
    new_by_code = {grid.code: grid for grid in grids}
    GridAssignment.objects.bulk_create(
        GridAssignment(
            grid=new_by_code[old_by_pk[a.grid_id]], worker=a.worker, duty=a.duty, start=valid_from
        )
        for a in staying_on
    )
    return len(grids) - len(old_by_pk), len(old_by_pk)


def import_file(
    *,
    path: str | Path,
    kind: str,
    mapping: dict[str, str],
    layer: int | str = 0,
    repair: bool = False,
    assume_wgs84: bool = False,
    valid_from: datetime.date | None = None,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Read, check and, if nothing is wrong, write the areas or grids in ``path``.

    ``mapping`` names the column holding each attribute, e.g. {"code": "GRID_CODE",
    "parent": "COMM_CODE"}; see FIELDS. ``layer`` is a name or a position (default the
    first layer). Geometries are transformed to WGS84 from the layer's coordinate system;
    a layer without one is refused unless ``assume_wgs84``.
    ``repair`` mends invalid geometries with MakeValid, keeping their polygonal parts.
    Grids start on ``valid_from`` (default today). Raises ImportFailed when the file
    cannot be read at all; feature problems come back in the result, with nothing written.
    """
    progress = progress or (lambda percent: None)
    valid_from = valid_from or timezone.localdate()
    if kind not in FIELDS:
        raise ImportFailed(_("Unknown kind of import: %(kind)s") % {"kind": kind})
    mapping = {name: column for name, column in mapping.items() if column}
    unknown = set(mapping) - set(FIELDS[kind])
    if unknown:
        raise ImportFailed(
            _("An import of %(kind)s has no attribute %(names)s.")
            % {"kind": Kind(kind).label, "names": ", ".join(sorted(unknown))}
        )
    missing = [name for name in REQUIRED[kind] if name not in mapping]
    if missing:
        raise ImportFailed(
            _("Choose the column holding: %(names)s.") % {"names": ", ".join(missing)}
        )

    layers = _layers(path)
    if isinstance(layer, int):
        chosen = layers[layer] if 0 <= layer < len(layers) else None
    else:
        chosen = next((item for item in layers if item.name == layer), None)
    if chosen is None:
        raise ImportFailed(_("The file has no layer named %(layer)s.") % {"layer": layer})
    absent = [column for column in mapping.values() if column not in chosen.fields]
    if absent:
        raise ImportFailed(
            _("The layer has no column %(columns)s.") % {"columns": ", ".join(absent)}
        )
    srs = chosen.srs
    if srs is None and not assume_wgs84:
        raise ImportFailed(
            _(
                "The file does not say which coordinate system it uses. Add one (a .prj "
                "file for a Shapefile), or confirm the coordinates are WGS84 longitude and "
                "latitude."
            )
        )
    transform = CoordTransform(srs, WGS84) if srs is not None else None

    report = _Report()
    features = _read(
        chosen,
        kind=kind,
        mapping=mapping,
        transform=transform,
        repair=repair,
        report=report,
        progress=progress,
    )
    if not features:
        raise ImportFailed(_("The layer holds no features."))
    if kind == Kind.AREAS:
        _check_area_parents(features, report)
    else:
        _check_grids(features, valid_from=valid_from, report=report, progress=progress)
    progress(90)
    if report.problems:
        return ImportResult(problems=report.sorted())

    try:
        with transaction.atomic():
            if kind == Kind.AREAS:
                created, replaced = _write_areas(features)
            else:
                created, replaced = _write_grids(features, valid_from)
    except ImportFailed:
        raise
    except (IntegrityError, GridError) as error:
        # Another import or an edit got in between the checks and the writing.
        raise ImportFailed(
            _("The data changed while importing (%(error)s); nothing was written. Try again.")
            % {"error": error}
        ) from error
    return ImportResult(created=created, replaced=replaced)
