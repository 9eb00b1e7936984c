import datetime

from django.core.management.base import BaseCommand, CommandError

from grids.importer import ImportFailed, import_file
from grids.models import ImportJob


class Command(BaseCommand):
    help = (
        "Import administrative areas or unit grids from a GeoJSON, a zipped Shapefile or a "
        "GeoPackage, in any coordinate system. Everything is checked first; if any feature "
        "has a problem the report is printed, nothing is written and the command fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help=".geojson, .json, .zip (Shapefile) or .gpkg")
        parser.add_argument("--kind", required=True, choices=ImportJob.Kind.values)
        parser.add_argument("--layer", default="", help="layer name (default: the first)")
        parser.add_argument("--code", required=True, help="column with the code")
        parser.add_argument("--name", default="", help="column with the name (areas)")
        parser.add_argument(
            "--parent", default="", help="column with the parent's code (default: from the code)"
        )
        parser.add_argument("--level", default="", help="column with the level (areas)")
        parser.add_argument("--land-use", default="", help="column with the land use (grids)")
        parser.add_argument(
            "--management-level", default="", help="column with the management level 1-3 (grids)"
        )
        parser.add_argument(
            "--repair", action="store_true", help="fix invalid geometries with MakeValid"
        )
        parser.add_argument(
            "--assume-wgs84",
            action="store_true",
            help="read a file that names no coordinate system as WGS84 longitude/latitude",
        )
        parser.add_argument(
            "--valid-from",
            type=datetime.date.fromisoformat,
            help="first day of the imported grids, YYYY-MM-DD (default: today)",
        )

    def handle(self, *args, file, kind, **options):
        columns = {
            "code": options["code"],
            "name": options["name"],
            "parent": options["parent"],
            "level": options["level"],
            "land_use": options["land_use"],
            "management_level": options["management_level"],
        }
        if kind == ImportJob.Kind.GRIDS:
            for option in ("name", "level"):
                if columns.pop(option):
                    raise CommandError(f"--{option} is for areas; unit grids have none.")
        else:
            for option in ("land_use", "management_level"):
                if columns.pop(option):
                    raise CommandError(f"--{option.replace('_', '-')} is for unit grids.")
        try:
            result = import_file(
                path=file,
                kind=kind,
                mapping=columns,
                layer=options["layer"] or 0,
                repair=options["repair"],
                assume_wgs84=options["assume_wgs84"],
                valid_from=options["valid_from"],
            )
        except ImportFailed as error:
            raise CommandError(str(error)) from None
        if not result.ok:
            for problem in result.problems:
                self.stdout.write(
                    f"feature {problem['feature']}\t{problem['code'] or '-'}\t{problem['problem']}"
                )
            raise CommandError(
                f"{len(result.problems)} problem(s) in {file}; nothing was imported."
            )
        self.stdout.write(f"{file}: {result.created} created, {result.replaced} replaced.")
