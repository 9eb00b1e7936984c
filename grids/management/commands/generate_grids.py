import datetime

from django.core.management.base import BaseCommand, CommandError

from grids.models import Area
from grids.services import GridError, grids_generate


class Command(BaseCommand):
    help = (
        "Cover communities with square unit grids clipped to their boundary, numbered west to "
        "east and north to south. Current grids of those communities are kept as history."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "codes", nargs="+", help="community codes, or a street or district code"
        )
        parser.add_argument("--size", type=float, default=100.0, help="cell size in metres")
        parser.add_argument("--digits", type=int, choices=[2, 3], help="sequence digits")
        parser.add_argument("--valid-from", type=datetime.date.fromisoformat, help="YYYY-MM-DD")

    def handle(self, *args, codes, size, digits, valid_from, **options):
        communities = []
        for code in codes:
            area = Area.objects.filter(code=code).first()
            if area is None:
                raise CommandError(f"No area has the code {code}.")
            if area.level == Area.Level.COMMUNITY:
                communities.append(area)
            else:
                communities.extend(
                    Area.objects.filter(code__startswith=code, level=Area.Level.COMMUNITY)
                )
        for community in communities:
            try:
                grids = grids_generate(
                    community=community, cell_size=size, digits=digits, valid_from=valid_from
                )
            except GridError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(f"{community}: {len(grids)} unit grids")
