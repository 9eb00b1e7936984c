"""GIS import of areas and unit grids: files in several formats and coordinate systems,
checks before writing, all or nothing, the command, the pages and the real worker."""

import datetime
import io
import json
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import SimpleTestCase, TestCase, TransactionTestCase, override_settings
from django.urls import reverse
from django.utils import timezone, translation

from governance.settings import envfloat
from grids.importer import ImportFailed, import_file, read_layers
from grids.models import Area, GridAssignment, ImportJob, UnitGrid
from grids.services import area_m2
from grids.tasks import run_import
from org.models import Role
from tests.base import PASSWORD, BaseTestCase, PersonasMixin, make_person
from tests.grids.helpers import bbox

DATA = Path(__file__).resolve().parent.parent / "data"
AREAS_GEOJSON = DATA / "dongcheng-areas.geojson"
GRIDS_ZIP = DATA / "dongcheng-grids-4548.zip"
AREA_COLUMNS = {"code": "CODE", "name": "NAME", "parent": "PARENT", "level": "LEVEL"}
GRID_COLUMNS = {
    "code": "GRID_CODE",
    "parent": "COMM_CODE",
    "land_use": "LAND_USE",
    "management_level": "MGMT_LEVEL",
}
COMMUNITY = "110101001001"  # 多福巷社区: lon 116.4040-116.4100, lat 39.9180-39.9230
UTM_50N = 32650
# A point inside 多福巷社区 near its south-west corner, in UTM zone 50N metres.
ORIGIN = Point(116.4045, 39.9185, srid=4326).transform(UTM_50N, clone=True)


def grid(number: int) -> str:
    return f"{COMMUNITY}{number:03d}"


def utm_box(x: float, y: float, width: float = 100, height: float = 100) -> list:
    """A rectangle ``x``..``x+width`` by ``y``..``y+height`` metres from ORIGIN, in EPSG:32650."""
    x0, y0 = ORIGIN.x + x, ORIGIN.y + y
    x1, y1 = x0 + width, y0 + height
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def lonlat_box(xmin: float, ymin: float, xmax: float, ymax: float) -> list:
    return [[[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax], [xmin, ymin]]]


def write_geojson(path: Path, features: list[tuple[dict, list]], epsg: int | None = None) -> Path:
    """A GeoJSON of polygons; with ``epsg`` it names that CRS the way GDAL reads it."""
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": properties,
                "geometry": {"type": "Polygon", "coordinates": rings},
            }
            for properties, rings in features
        ],
    }
    if epsg:
        collection["crs"] = {
            "type": "name",
            "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"},
        }
    path.write_text(json.dumps(collection, ensure_ascii=False))
    return path


def ogr2ogr(*args: str) -> None:
    """The GDAL command-line converter (gdal-bin, installed by bin/system-packages)."""
    executable = shutil.which("ogr2ogr")
    assert executable, "ogr2ogr is missing: install gdal-bin"
    subprocess.run([executable, *args], check=True, capture_output=True, timeout=60)


def shapefile_without_crs(folder: Path) -> Path:
    """The shipped grids as a zipped Shapefile in WGS84 but without its .prj file."""
    ogr2ogr(
        "-t_srs",
        "EPSG:4326",
        "-lco",
        "ENCODING=UTF-8",
        str(folder / "grids.shp"),
        f"/vsizip/{GRIDS_ZIP}",
    )
    archive = folder / "grids-no-prj.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for suffix in (".shp", ".shx", ".dbf", ".cpg"):
            out.write(folder / f"grids{suffix}", f"grids{suffix}")
    return archive


def import_areas():
    return import_file(path=AREAS_GEOJSON, kind="areas", mapping=AREA_COLUMNS)


class TempDirMixin:
    def setUp(self):
        super().setUp()
        self.tmp = Path(tempfile.mkdtemp(prefix="gridgov-import-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)


class ImportAreasTestCase(TempDirMixin, TestCase):
    def test_it_imports_the_geojson_of_dongcheng(self):
        result = import_areas()
        self.assertTrue(result.ok, result.problems)
        self.assertEqual((result.created, result.replaced), (5, 0))
        district = Area.objects.get(code="110101")
        street = Area.objects.get(code="110101001")
        community = Area.objects.get(code=COMMUNITY)
        self.assertEqual(
            (district.name, district.level, district.parent), ("东城区", "district", None)
        )
        self.assertEqual((street.level, street.parent), ("street", district))
        self.assertEqual(
            (community.name, community.level, community.parent), ("多福巷社区", "community", street)
        )
        self.assertEqual(community.boundary.srid, 4326)
        self.assertEqual(community.boundary.geom_type, "MultiPolygon")
        self.assertEqual(
            tuple(round(c, 6) for c in community.boundary.extent),
            (116.404, 39.918, 116.41, 39.923),
        )

    def test_it_updates_the_areas_already_there(self):
        district = Area.objects.create(
            code="110101", name="东城", level="district", boundary=bbox(116.3, 39.8, 116.5, 40.0)
        )
        result = import_areas()
        self.assertTrue(result.ok, result.problems)
        self.assertEqual((result.created, result.replaced), (4, 1))
        district.refresh_from_db()
        self.assertEqual(district.name, "东城区")
        self.assertAlmostEqual(district.boundary.extent[0], 116.38)
        self.assertEqual(Area.objects.count(), 5)

    def test_it_checks_codes_levels_names_and_parents(self):
        path = write_geojson(
            self.tmp / "areas.geojson",
            [
                ({"CODE": "110101", "NAME": "东城区"}, lonlat_box(116.38, 39.86, 116.45, 39.97)),
                ({"CODE": "11010A", "NAME": "坏编码"}, lonlat_box(116.39, 39.90, 116.40, 39.91)),
                ({"CODE": "1101010", "NAME": "七位"}, lonlat_box(116.39, 39.90, 116.40, 39.91)),
                (
                    {"CODE": "110101002", "NAME": "景山街道", "LEVEL": "社区"},
                    lonlat_box(116.39, 39.92, 116.40, 39.93),
                ),
                ({"CODE": "110101003", "NAME": ""}, lonlat_box(116.40, 39.92, 116.41, 39.93)),
                (
                    {"CODE": "110101099001", "NAME": "无街道社区"},
                    lonlat_box(116.40, 39.92, 116.41, 39.93),
                ),
                (
                    {"CODE": "110101003001", "NAME": "错上级", "PARENT": "110101002"},
                    lonlat_box(116.40, 39.92, 116.41, 39.93),
                ),
            ],
        )
        with translation.override("en"):
            result = import_file(
                path=path,
                kind="areas",
                mapping={"code": "CODE", "name": "NAME", "parent": "PARENT", "level": "LEVEL"},
            )
        problems = {(p["feature"], p["problem"]) for p in result.problems}
        self.assertEqual(
            problems,
            {
                (2, "code 11010A is not all digits"),
                (3, "an area code has 6 (district), 9 (street) or 12 (community) digits"),
                (4, "level 社区 does not match a 9-digit code"),
                (5, "has no name"),
                (6, "parent 110101099 is neither in this file nor in GridGov"),
                (7, "code 110101003001 does not start with its parent's code 110101002"),
            },
        )
        self.assertFalse(Area.objects.exists())


class ImportGridsTestCase(TempDirMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        assert import_areas().ok
        cls.community = Area.objects.get(code=COMMUNITY)

    def import_grids(self, path, **options):
        options.setdefault("mapping", GRID_COLUMNS)
        with translation.override("en"):
            return import_file(path=path, kind="grids", **options)

    def test_it_imports_the_zipped_shapefile_in_cgcs2000_gauss_kruger(self):
        layers = read_layers(GRIDS_ZIP)
        self.assertEqual(
            layers,
            [
                {
                    "name": "dongcheng_grids",
                    "columns": ["GRID_CODE", "COMM_CODE", "LAND_USE", "MGMT_LEVEL"],
                    "count": 9,
                    "srs": "CGCS2000 / 3-degree Gauss-Kruger CM 117E",
                }
            ],
        )
        steps = []
        result = self.import_grids(GRIDS_ZIP, progress=steps.append)
        self.assertTrue(result.ok, result.problems)
        self.assertEqual((result.created, result.replaced), (9, 0))
        self.assertEqual(steps, sorted(steps))
        self.assertEqual(steps[-1], 90)

        first = UnitGrid.objects.get(code=grid(1))
        # Northing-first Gauss-Kruger back to longitude/latitude, to a millimetre or so.
        for got, expected in zip(
            first.boundary.extent, (116.404, 39.9213, 116.406, 39.923), strict=True
        ):
            self.assertAlmostEqual(got, expected, places=7)
        self.assertEqual(first.community, self.community)
        self.assertAlmostEqual(first.area_m2, area_m2(first.boundary), places=3)
        self.assertAlmostEqual(first.area_m2, 170.6 * 189.2, delta=100)
        self.assertEqual((first.land_use, first.management_level), ("residential", 2))
        third = UnitGrid.objects.get(code=grid(3))
        self.assertEqual((third.land_use, third.management_level), ("commercial", 1))
        self.assertEqual(first.valid_from, timezone.localdate())

    def test_it_replaces_grids_from_a_geopackage_in_utm_keeping_history_and_workers(self):
        month_ago = timezone.localdate() - datetime.timedelta(days=30)
        self.assertTrue(self.import_grids(GRIDS_ZIP, valid_from=month_ago).ok)
        worker = make_person("wang", Role.GRID_WORKER)
        GridAssignment.objects.create(
            grid=UnitGrid.objects.get(code=grid(1)),
            worker=worker,
            duty=GridAssignment.Duty.RESPONSIBLE,
            start=month_ago,
        )
        gpkg = self.tmp / "dongcheng-grids-utm50n.gpkg"
        ogr2ogr("-f", "GPKG", "-t_srs", f"EPSG:{UTM_50N}", str(gpkg), f"/vsizip/{GRIDS_ZIP}")
        self.assertEqual(read_layers(gpkg)[0]["srs"], "WGS 84 / UTM zone 50N")

        result = self.import_grids(gpkg)
        self.assertTrue(result.ok, result.problems)
        self.assertEqual((result.created, result.replaced), (0, 9))
        today = timezone.localdate()
        old, new = UnitGrid.objects.filter(code=grid(1)).order_by("valid_from")
        self.assertEqual((old.valid_from, old.valid_to), (month_ago, today))
        self.assertEqual((new.valid_from, new.valid_to), (today, None))
        self.assertEqual(UnitGrid.objects.current().count(), 9)
        self.assertLess(old.boundary.sym_difference(new.boundary).area, 1e-12)
        # The worker looks after the new version of the grid from the day it starts.
        self.assertEqual(old.assignments.get().end, today)
        self.assertEqual(new.responsible().worker, worker)

    def test_it_rejects_an_invalid_polygon_a_duplicate_code_and_an_overlap(self):
        bow_tie = [
            [
                [ORIGIN.x + 100, ORIGIN.y],
                [ORIGIN.x + 200, ORIGIN.y + 100],
                [ORIGIN.x + 200, ORIGIN.y],
                [ORIGIN.x + 100, ORIGIN.y + 100],
                [ORIGIN.x + 100, ORIGIN.y],
            ]
        ]
        path = write_geojson(
            self.tmp / "bad-grids-utm50n.geojson",
            [
                ({"GRID_CODE": grid(1)}, utm_box(0, 0)),
                ({"GRID_CODE": grid(2)}, bow_tie),
                ({"GRID_CODE": grid(3)}, utm_box(200, 0)),
                ({"GRID_CODE": grid(1)}, utm_box(0, 200)),
                ({"GRID_CODE": grid(5)}, utm_box(250, 50)),
            ],
            epsg=UTM_50N,
        )
        result = self.import_grids(path, mapping={"code": "GRID_CODE"})
        self.assertFalse(result.ok)
        self.assertEqual(
            [(p["feature"], p["code"]) for p in result.problems],
            [(2, grid(2)), (4, grid(1)), (5, grid(5))],
        )
        invalid, duplicate, overlap = (p["problem"] for p in result.problems)
        self.assertIn("has an invalid geometry (Self-intersection", invalid)
        self.assertIn("MakeValid", invalid)
        self.assertEqual(duplicate, f"code {grid(1)} is also used by feature 1")
        self.assertRegex(overlap, rf"^overlaps feature 3 \({grid(3)}\) by 2[45]\d\d\.\d m²$")
        self.assertFalse(UnitGrid.objects.exists())

        repaired = self.import_grids(path, mapping={"code": "GRID_CODE"}, repair=True)
        self.assertEqual([p["feature"] for p in repaired.problems], [4, 5])
        self.assertFalse(UnitGrid.objects.exists())

    def test_it_repairs_an_invalid_polygon_with_make_valid_when_asked(self):
        path = write_geojson(
            self.tmp / "bow-tie.geojson",
            [
                (
                    {"GRID_CODE": grid(1)},
                    [
                        [
                            [116.405, 39.919],
                            [116.406, 39.920],
                            [116.406, 39.919],
                            [116.405, 39.920],
                            [116.405, 39.919],
                        ]
                    ],
                )
            ],
        )
        self.assertFalse(self.import_grids(path, mapping={"code": "GRID_CODE"}).ok)
        result = self.import_grids(path, mapping={"code": "GRID_CODE"}, repair=True)
        self.assertTrue(result.ok, result.problems)
        repaired = UnitGrid.objects.get().boundary
        self.assertTrue(repaired.valid)
        self.assertEqual((repaired.geom_type, len(repaired)), ("MultiPolygon", 2))

    def test_it_rejects_a_grid_outside_its_community_beyond_the_tolerance(self):
        path = write_geojson(
            self.tmp / "outside.geojson",
            [
                # Half of it east of the community's edge at 116.4100.
                ({"GRID_CODE": grid(1)}, lonlat_box(116.4090, 39.9190, 116.4110, 39.9200)),
                # A quarter of a percent outside: digitising noise, accepted.
                ({"GRID_CODE": grid(2)}, lonlat_box(116.4060, 39.9200, 116.41001, 39.9210)),
            ],
        )
        result = self.import_grids(path, mapping={"code": "GRID_CODE"})
        self.assertEqual([p["feature"] for p in result.problems], [1])
        self.assertRegex(
            result.problems[0]["problem"],
            rf"^lies \d+ m² \(50\.\d%\) outside community {COMMUNITY}$",
        )
        with override_settings(GRID_IMPORT_OUTSIDE_TOLERANCE=0.001):
            result = self.import_grids(path, mapping={"code": "GRID_CODE"})
        self.assertEqual([p["feature"] for p in result.problems], [1, 2])
        self.assertFalse(UnitGrid.objects.exists())

    def test_it_accepts_overlaps_within_the_tolerance(self):
        path = write_geojson(
            self.tmp / "touching.geojson",
            [
                ({"GRID_CODE": grid(1)}, utm_box(0, 0)),
                # 5 mm over its neighbour along 100 m: half a square metre.
                ({"GRID_CODE": grid(2)}, utm_box(99.995, 0)),
            ],
            epsg=UTM_50N,
        )
        with override_settings(GRID_IMPORT_OVERLAP_TOLERANCE_M2=0.1):
            result = self.import_grids(path, mapping={"code": "GRID_CODE"})
        self.assertEqual([p["feature"] for p in result.problems], [2])
        self.assertIn("by 0.5 m²", result.problems[0]["problem"])
        result = self.import_grids(path, mapping={"code": "GRID_CODE"})
        self.assertTrue(result.ok, result.problems)
        self.assertEqual(UnitGrid.objects.count(), 2)

    def test_it_rejects_an_overlap_with_a_grid_in_force_that_the_file_keeps(self):
        month_ago = timezone.localdate() - datetime.timedelta(days=30)
        kept = bbox(116.4050, 39.9190, 116.4060, 39.9200)
        UnitGrid.objects.create(
            code=grid(10),
            community=self.community,
            boundary=kept,
            area_m2=area_m2(kept),
            valid_from=month_ago,
        )
        path = write_geojson(
            self.tmp / "over-existing.geojson",
            [({"GRID_CODE": grid(11)}, lonlat_box(116.4055, 39.9190, 116.4065, 39.9200))],
        )
        result = self.import_grids(path, mapping={"code": "GRID_CODE"})
        self.assertEqual(len(result.problems), 1)
        self.assertRegex(
            result.problems[0]["problem"],
            rf"^overlaps grid {grid(10)}, which is in force and not in this file, by \d+\.\d m²$",
        )
        # Redrawing grid 10 in the same file makes room for grid 11.
        path = write_geojson(
            self.tmp / "redrawn.geojson",
            [
                ({"GRID_CODE": grid(10)}, lonlat_box(116.4045, 39.9190, 116.4055, 39.9200)),
                ({"GRID_CODE": grid(11)}, lonlat_box(116.4055, 39.9190, 116.4065, 39.9200)),
            ],
        )
        result = self.import_grids(path, mapping={"code": "GRID_CODE"})
        self.assertTrue(result.ok, result.problems)
        self.assertEqual((result.created, result.replaced), (1, 1))

    def test_it_checks_codes_communities_and_attributes(self):
        attributes = [
            {"GRID_CODE": "11010100100101", "COMM_CODE": COMMUNITY},
            {"GRID_CODE": "110101001099001", "COMM_CODE": "110101001099"},
            {"GRID_CODE": "110101001001001", "COMM_CODE": "110101001002"},
            {"GRID_CODE": grid(2), "LAND_USE": "farm"},
            {"GRID_CODE": grid(3), "MGMT_LEVEL": 7},
            {"GRID_CODE": "", "LAND_USE": "居住"},
            {"GRID_CODE": "110101001000000"},
        ]
        west = 116.4042
        path = write_geojson(
            self.tmp / "attributes.geojson",
            [
                (values, lonlat_box(west + 0.0008 * n, 39.919, west + 0.0008 * n + 0.0005, 39.920))
                for n, values in enumerate(attributes)
            ],
        )
        result = self.import_grids(path)
        problems = {(p["feature"], p["problem"]) for p in result.problems}
        length = (
            "a grid code has 15 digits: the 12-digit community code and a 3-digit number from 1"
        )
        self.assertEqual(
            problems,
            {
                (1, length),
                (2, "community 110101001099 is not in GridGov: import the areas first"),
                (3, "code 110101001001001 does not start with its parent's code 110101001002"),
                (
                    4,
                    "land use farm is not one of: residential, commercial, mixed, public, "
                    "industrial, green, road, water, other",
                ),
                (5, "management level must be 1, 2 or 3, not 7"),
                (6, "has no code"),
                (7, length),
            },
        )

    def test_it_does_not_replace_a_grid_on_the_day_it_came_into_force(self):
        self.assertTrue(self.import_grids(GRIDS_ZIP).ok)
        result = self.import_grids(GRIDS_ZIP)
        self.assertEqual([p["feature"] for p in result.problems], list(range(1, 10)))
        self.assertIn("came into force on", result.problems[0]["problem"])
        self.assertEqual(UnitGrid.objects.count(), 9)

    def test_it_refuses_a_layer_without_a_coordinate_system_unless_told_it_is_wgs84(self):
        archive = shapefile_without_crs(self.tmp)
        self.assertEqual(read_layers(archive)[0]["srs"], "")
        with self.assertRaisesMessage(ImportFailed, "does not say which coordinate system"):
            self.import_grids(archive)
        self.assertFalse(UnitGrid.objects.exists())
        result = self.import_grids(archive, assume_wgs84=True)
        self.assertTrue(result.ok, result.problems)
        self.assertEqual(result.created, 9)

    def test_it_refuses_files_it_cannot_read(self):
        (self.tmp / "notes.txt").write_text("code,name")
        (self.tmp / "broken.geojson").write_text("{not json")
        (self.tmp / "nothing.geojson").write_text('{"type": "FeatureCollection", "features": []}')
        with zipfile.ZipFile(self.tmp / "empty.zip", "w") as archive:
            archive.writestr("readme.txt", "no shapefile here")
        cases = {
            "notes.txt": "GridGov reads GeoJSON (.geojson, .json), zipped Shapefiles",
            "broken.geojson": "GDAL cannot read this file as GeoJSON.",
            "empty.zip": "The zip file holds no Shapefile (.shp).",
            # No column to choose from, and nothing to import: said at the upload.
            "nothing.geojson": "The file holds no feature: there is nothing to import.",
        }
        for name, message in cases.items():
            with self.subTest(name=name), self.assertRaisesMessage(ImportFailed, message):
                self.import_grids(self.tmp / name)
        with self.assertRaisesMessage(ImportFailed, "The layer has no column WGBM."):
            self.import_grids(GRIDS_ZIP, mapping={"code": "WGBM"})
        with self.assertRaisesMessage(ImportFailed, "Choose the column holding: code."):
            self.import_grids(GRIDS_ZIP, mapping={"parent": "COMM_CODE"})


class ImportCommandTestCase(TempDirMixin, TestCase):
    def call(self, *args) -> str:
        out = io.StringIO()
        with translation.override("en"):
            call_command("import_grids", *map(str, args), stdout=out)
        return out.getvalue()

    def test_it_imports_areas_then_grids(self):
        out = self.call(
            AREAS_GEOJSON,
            "--kind",
            "areas",
            "--code",
            "CODE",
            "--name",
            "NAME",
            "--parent",
            "PARENT",
        )
        self.assertIn("5 created, 0 replaced", out)
        out = self.call(
            GRIDS_ZIP, "--kind", "grids", "--code", "GRID_CODE", "--land-use", "LAND_USE"
        )
        self.assertIn("9 created, 0 replaced", out)
        self.assertEqual(UnitGrid.objects.get(code=grid(9)).land_use, "road")

    def test_it_prints_the_report_and_fails_when_rejected(self):
        path = write_geojson(
            self.tmp / "orphans.geojson",
            [({"GRID_CODE": grid(1)}, lonlat_box(116.405, 39.919, 116.406, 39.920))],
        )
        out = io.StringIO()
        with self.assertRaisesMessage(CommandError, "1 problem(s)"), translation.override("en"):
            call_command(
                "import_grids", str(path), "--kind", "grids", "--code", "GRID_CODE", stdout=out
            )
        self.assertIn(
            f"feature 1\t{grid(1)}\tcommunity {COMMUNITY} is not in GridGov", out.getvalue()
        )
        with self.assertRaisesMessage(CommandError, "--name is for areas"):
            self.call(GRIDS_ZIP, "--kind", "grids", "--code", "GRID_CODE", "--name", "X")


class ImportSettingsTestCase(SimpleTestCase):
    def test_it_reads_tolerances_strictly(self):
        with pytest.MonkeyPatch.context() as env:
            env.setenv("GRID_IMPORT_TEST_NUMBER", "0.05")
            self.assertEqual(envfloat("GRID_IMPORT_TEST_NUMBER", 1.0), 0.05)
            env.setenv("GRID_IMPORT_TEST_NUMBER", "")
            self.assertEqual(envfloat("GRID_IMPORT_TEST_NUMBER", 1.0), 1.0)
            for bad in ("1%", "nan", "inf"):
                env.setenv("GRID_IMPORT_TEST_NUMBER", bad)
                with self.assertRaisesMessage(ImproperlyConfigured, "is not a number"):
                    envfloat("GRID_IMPORT_TEST_NUMBER", 1.0)


def upload(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


class ImportPagesTestCase(TempDirMixin, BaseTestCase):
    def setUp(self):
        super().setUp()
        media = override_settings(MEDIA_ROOT=self.tmp / "media")
        media.enable()
        self.addCleanup(media.disable)

    def post_upload(self, path: Path, kind: str = "grids", name: str | None = None):
        return self.client.post(
            reverse("grids:import_new"),
            {"kind": kind, "upload": upload(path, name)},
            HTTP_ACCEPT_LANGUAGE="en",
        )

    def choose_columns(self, job: ImportJob, columns: dict, **extra):
        with self.captureOnCommitCallbacks() as callbacks:
            response = self.client.post(
                reverse("grids:import_columns", args=[job.pk]),
                {"layer": 0, **columns, **extra},
                HTTP_ACCEPT_LANGUAGE="en",
            )
        return response, callbacks

    def test_it_is_for_administrators_only(self):
        job = ImportJob.objects.create(
            kind="grids", upload="imports/x.zip", original_name="x.zip", layers=[]
        )
        urls = [
            reverse("grids:imports"),
            reverse("grids:import_new"),
            reverse("grids:import_columns", args=[job.pk]),
            reverse("grids:import_detail", args=[job.pk]),
            reverse("grids:import_status", args=[job.pk]),
        ]
        others = [p for role, p in self.personas.items() if role != Role.ADMINISTRATOR]
        for url in urls:
            self.client.logout()
            with self.subTest(url=url, who="anonymous"):
                self.assertRedirects(
                    self.client.get(url),
                    f"{reverse('login')}?next={url}",
                    fetch_redirect_response=False,
                )
            for person in [*others, self.nobody]:
                with self.subTest(url=url, who=person.username):
                    self.client.force_login(person)
                    self.assertEqual(self.client.get(url).status_code, 403)
                    self.assertEqual(self.client.post(url).status_code, 403)
        self.client.force_login(self.ada)
        self.assertEqual(self.client.get(reverse("grids:imports")).status_code, 200)
        self.assertEqual(self.client.get(reverse("grids:import_new")).status_code, 200)

    def test_it_lists_recent_imports_in_a_fixed_number_of_queries(self):
        self.client.force_login(self.ada)
        ImportJob.objects.create(
            kind="areas", upload="imports/a.geojson", original_name="a.geojson", created_by=self.ada
        )
        # Session, person, roles, imports with uploader, the header's unread count.
        with self.assertNumQueries(5):
            first = self.client.get(reverse("grids:imports"), HTTP_ACCEPT_LANGUAGE="en")
        for n in range(5):
            ImportJob.objects.create(
                kind="grids",
                upload=f"imports/{n}.zip",
                original_name=f"grids-{n}.zip",
                created_by=self.zhou,
            )
        with self.assertNumQueries(5):
            response = self.client.get(reverse("grids:imports"), HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(first, "a.geojson")
        self.assertContains(response, "grids-4.zip")
        self.assertContains(response, "Choosing columns")

    def test_it_reads_the_columns_and_chooses_the_obvious_ones(self):
        self.client.force_login(self.ada)
        response = self.post_upload(GRIDS_ZIP)
        job = ImportJob.objects.get()
        self.assertRedirects(response, reverse("grids:import_columns", args=[job.pk]))
        self.assertEqual(
            (job.kind, job.status, job.original_name, job.created_by, job.language),
            ("grids", "mapping", "dongcheng-grids-4548.zip", self.ada, "en"),
        )
        self.assertEqual(job.layers[0]["columns"], list(GRID_COLUMNS.values()))
        self.assertTrue(Path(job.upload.path).is_file())

        page = self.client.get(
            reverse("grids:import_columns", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(page, "CGCS2000 / 3-degree Gauss-Kruger CM 117E")
        for field, column in GRID_COLUMNS.items():
            self.assertContains(page, f'<option value="{column}" selected>', html=False)
            self.assertContains(page, f'name="{field}"')
        self.assertNotContains(page, 'name="assume_wgs84"')
        # Detail and unknown steps lead back to choosing the columns.
        self.assertRedirects(
            self.client.get(reverse("grids:import_detail", args=[job.pk])),
            reverse("grids:import_columns", args=[job.pk]),
        )

    @override_settings(FILE_UPLOAD_MAX_MEMORY_SIZE=0)
    def test_it_reads_a_large_upload_from_its_temporary_file(self):
        self.client.force_login(self.ada)
        response = self.post_upload(AREAS_GEOJSON, kind="areas")
        job = ImportJob.objects.get()
        self.assertRedirects(response, reverse("grids:import_columns", args=[job.pk]))
        self.assertEqual(job.layers[0]["count"], 5)

    def test_it_refuses_a_file_of_the_wrong_type_and_keeps_the_kind(self):
        self.client.force_login(self.ada)
        response = self.client.post(
            reverse("grids:import_new"),
            {"kind": "areas", "upload": SimpleUploadedFile("grids.xlsx", b"PK\x03\x04")},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        self.assertContains(response, "grids.xlsx is not a file GridGov can import")
        self.assertContains(response, '<option value="areas" selected>', html=False)
        self.assertFalse(ImportJob.objects.exists())

    def test_it_refuses_a_file_too_large_or_unreadable(self):
        self.client.force_login(self.ada)
        with override_settings(GRID_IMPORT_MAX_BYTES=1024):
            response = self.post_upload(GRIDS_ZIP)
        self.assertContains(
            response, "The file is 1.6\xa0KB; files up to 1.0\xa0KB can be imported."
        )
        broken = self.tmp / "broken.gpkg"
        broken.write_bytes(b"SQLite format 3\x00 but not really")
        response = self.post_upload(broken)
        self.assertContains(response, "GDAL cannot read this file as GPKG.")
        self.assertContains(response, '<option value="grids" selected>', html=False)
        self.assertFalse(ImportJob.objects.exists())

    def test_it_enqueues_the_job_once_on_commit(self):
        self.client.force_login(self.ada)
        self.post_upload(GRIDS_ZIP)
        job = ImportJob.objects.get()
        response, callbacks = self.choose_columns(
            job, {"code": "GRID_CODE", "parent": "COMM_CODE", "land_use": "LAND_USE"}, repair="on"
        )
        self.assertRedirects(
            response, reverse("grids:import_detail", args=[job.pk]), fetch_redirect_response=False
        )
        self.assertEqual(len(callbacks), 1)
        job.refresh_from_db()
        self.assertEqual(job.status, "pending")
        self.assertEqual(
            job.mapping, {"code": "GRID_CODE", "parent": "COMM_CODE", "land_use": "LAND_USE"}
        )
        self.assertEqual((job.layer, job.repair, job.assume_wgs84), (0, True, False))
        # A second click (or another tab) does not start it again.
        response, callbacks = self.choose_columns(job, {"code": "GRID_CODE"})
        self.assertEqual(len(callbacks), 0)
        job.refresh_from_db()
        self.assertTrue(job.repair)

    def test_it_asks_to_confirm_wgs84_for_a_file_without_coordinate_system(self):
        self.client.force_login(self.ada)
        self.post_upload(shapefile_without_crs(self.tmp))
        job = ImportJob.objects.get()
        page = self.client.get(
            reverse("grids:import_columns", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(page, "not stated in the file")
        response, callbacks = self.choose_columns(job, {"code": "GRID_CODE"})
        self.assertContains(response, "GridGov can only read a file without a coordinate system")
        self.assertEqual(len(callbacks), 0)
        response, callbacks = self.choose_columns(job, {"code": "GRID_CODE"}, assume_wgs84="on")
        self.assertEqual(len(callbacks), 1)
        job.refresh_from_db()
        self.assertTrue(job.assume_wgs84)

    def test_it_shows_the_report_of_a_rejected_import(self):
        assert import_areas().ok
        path = write_geojson(
            self.tmp / "overlapping.geojson",
            [
                ({"WGBM": grid(1)}, lonlat_box(116.4050, 39.9190, 116.4060, 39.9200)),
                ({"WGBM": grid(2)}, lonlat_box(116.4055, 39.9190, 116.4065, 39.9200)),
            ],
        )
        self.client.force_login(self.ada)
        self.post_upload(path)
        job = ImportJob.objects.get()
        page = self.client.get(reverse("grids:import_columns", args=[job.pk]))
        self.assertContains(page, '<option value="WGBM" selected>', html=False)
        self.choose_columns(job, {"code": "WGBM"})
        run_import(job.pk)  # what the worker does, in this process

        job.refresh_from_db()
        self.assertEqual((job.status, job.progress), ("failed", 100))
        self.assertIsNotNone(job.finished_at)
        page = self.client.get(
            reverse("grids:import_detail", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(page, "One problem was found; nothing was imported.")
        self.assertContains(page, f"<td>2</td><td>{grid(2)}</td><td>overlaps feature 1 ({grid(1)})")
        self.assertNotContains(page, "grid_import.js")
        self.assertFalse(UnitGrid.objects.exists())
        status = self.client.get(
            reverse("grids:import_status", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en"
        ).json()
        self.assertEqual(
            status, {"status": "failed", "label": "Rejected", "progress": 100, "finished": True}
        )

    def test_it_shows_progress_then_the_counts_and_runs_a_job_once(self):
        assert import_areas().ok
        self.client.force_login(self.ada)
        self.post_upload(GRIDS_ZIP)
        job = ImportJob.objects.get()
        self.choose_columns(job, GRID_COLUMNS)
        page = self.client.get(
            reverse("grids:import_detail", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(
            page, f'data-status-url="{reverse("grids:import_status", args=[job.pk])}"'
        )
        self.assertContains(page, '<progress class="bar" max="100" value="0">', html=False)
        self.assertContains(page, "grid_import.js")

        run_import(job.pk)
        run_import(job.pk)  # delivered twice: the claim lets it run once
        job.refresh_from_db()
        self.assertEqual((job.status, job.created, job.replaced), ("succeeded", 9, 0))
        self.assertEqual(UnitGrid.objects.count(), 9)
        page = self.client.get(
            reverse("grids:import_detail", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(page, "Imported: 9 new unit grids, 0 replaced")
        self.assertNotContains(page, "<progress")


@pytest.mark.worker
@pytest.mark.usefixtures("celery_worker_process")
class ImportWorkerTestCase(PersonasMixin, TransactionTestCase):
    """Through the pages as Ada, with the real Celery worker doing the import."""

    def setUp(self):
        self.make_personas()
        self.client.force_login(self.ada)

    def upload_and_import(self, path: Path, kind: str, columns: dict) -> ImportJob:
        with path.open("rb") as file:
            response = self.client.post(
                reverse("grids:import_new"),
                {"kind": kind, "upload": file},
                HTTP_ACCEPT_LANGUAGE="en",
            )
        job = ImportJob.objects.latest("pk")
        self.addCleanup(job.upload.delete, save=False)
        self.assertRedirects(response, reverse("grids:import_columns", args=[job.pk]))
        page = self.client.get(response.url, HTTP_ACCEPT_LANGUAGE="en")
        for column in columns.values():
            self.assertContains(page, f'<option value="{column}" selected>', html=False)
        response = self.client.post(
            response.url, {"layer": 0, **columns}, HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertRedirects(response, reverse("grids:import_detail", args=[job.pk]))

        status_url = reverse("grids:import_status", args=[job.pk])
        seen = []
        deadline = time.monotonic() + 60
        while True:
            status = self.client.get(status_url, HTTP_ACCEPT_LANGUAGE="en").json()
            seen.append(status["status"])
            if status["finished"]:
                break
            assert time.monotonic() < deadline, f"the import did not finish within 60 s: {seen}"
            time.sleep(0.2)
        self.assertEqual(status["progress"], 100)
        self.assertEqual(seen, sorted(seen, key=["pending", "running", "succeeded"].index))
        job.refresh_from_db()
        return job

    def test_it_imports_areas_and_grids_in_the_worker(self):
        job = self.upload_and_import(AREAS_GEOJSON, "areas", AREA_COLUMNS)
        self.assertEqual((job.status, job.created, job.replaced), ("succeeded", 5, 0), job.message)
        self.assertEqual(Area.objects.get(code=COMMUNITY).parent.code, "110101001")

        job = self.upload_and_import(GRIDS_ZIP, "grids", GRID_COLUMNS)
        self.assertEqual((job.status, job.created, job.report), ("succeeded", 9, []), job.message)
        self.assertEqual(UnitGrid.objects.filter(community__code=COMMUNITY).count(), 9)
        page = self.client.get(
            reverse("grids:import_detail", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(page, "Imported: 9 new unit grids")


@pytest.fixture
def ada(transactional_db):
    PersonasMixin.make_personas()
    return PersonasMixin.ada


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_administrator_watches_an_import_finish_on_a_phone(
    live_server, browser, celery_worker_process, ada, screenshot
):
    assert import_areas().ok
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    page = context.new_page()
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", ada.username)
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(live_server.url + reverse("org:admin_home"))

    page.goto(live_server.url + reverse("grids:import_new"))
    page.select_option("#id_kind", "grids")
    page.set_input_files("#id_upload", str(GRIDS_ZIP))
    screenshot(page, "1-upload")
    page.click("#import-upload button[type=submit]")
    job = ImportJob.objects.get()
    page.wait_for_url(live_server.url + reverse("grids:import_columns", args=[job.pk]))
    assert page.input_value("#id_code") == "GRID_CODE"
    assert page.input_value("#id_parent") == "COMM_CODE"
    screenshot(page, "2-columns")

    page.click("#import-columns button[type=submit]")
    page.wait_for_url(live_server.url + reverse("grids:import_detail", args=[job.pk]))
    # grid_import.js polls the status and reloads the page once the worker is done.
    page.wait_for_selector("#import-outcome", timeout=60_000)
    assert "Imported: 9 new unit grids" in page.inner_text("#import-outcome")
    assert page.locator("progress").count() == 0
    screenshot(page, "3-imported")
    context.close()
    job.refresh_from_db()
    job.upload.delete(save=False)
    assert UnitGrid.objects.count() == 9


class StalledImportTestCase(TestCase):
    @override_settings(LANGUAGE_CODE="en")
    def test_an_import_left_running_by_a_dead_worker_is_closed(self):
        import datetime

        from django.utils import timezone

        from grids.tasks import ensure_imports_finish

        job = ImportJob.objects.create(kind="grids", original_name="g.zip", status="running")
        fresh = ImportJob.objects.create(kind="grids", original_name="h.zip", status="running")
        ImportJob.objects.filter(pk=job.pk).update(
            created_at=timezone.now() - datetime.timedelta(hours=2)
        )
        self.assertEqual(ensure_imports_finish(), 1)
        job.refresh_from_db()
        fresh.refresh_from_db()
        self.assertEqual((job.status, fresh.status), ("failed", "running"))
        self.assertIn("nothing was written", job.message)
