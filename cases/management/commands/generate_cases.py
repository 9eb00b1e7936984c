from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from cases.synthetic import NoDemoDistrict, Stats, generate_cases


class Command(BaseCommand):
    help = (
        "Add realistic synthetic cases over the demo district (Dongcheng), reported over the "
        "last months, in every stage, each with its event history, for demos and benchmarks. "
        "Loads the demo district first if it has no unit grids."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, required=True, help="how many cases to add")
        parser.add_argument("--months", type=int, default=6, help="report period (default 6)")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--batch", type=int, default=10_000, help="cases per batch (default 10,000)"
        )
        parser.add_argument(
            "--one-process",
            dest="parallel",
            action="store_false",
            help="simulate in this process only (by default, with a rebuild and two or more "
            "CPUs, a second process simulates the next batch while this one writes)",
        )
        indexes = parser.add_mutually_exclusive_group()
        indexes.add_argument(
            "--rebuild-indexes",
            dest="rebuild",
            action="store_const",
            const=True,
            help="PostgreSQL: drop the case tables' secondary indexes and foreign keys and "
            "rebuild them at the end, in one transaction (default when the run at least "
            "doubles the case table; the tables are locked meanwhile)",
        )
        indexes.add_argument(
            "--keep-indexes",
            dest="rebuild",
            action="store_const",
            const=False,
            help="PostgreSQL: append in committed batches with every index in place",
        )

    def handle(self, *args, cases, months, seed, batch, rebuild, parallel, **options):
        if cases <= 0 or batch <= 0 or months <= 0:
            raise CommandError("--cases, --batch and --months must be positive.")

        def progress(stats: Stats) -> None:
            self.stdout.write(
                f"  {stats.cases:>10,} / {cases:,} cases ({stats.cases / cases:4.0%}), "
                f"{stats.events:,} events, {stats.seconds_total:6.1f} s, "
                f"{stats.overall_per_second:,.0f} cases/s so far"
            )

        self.stdout.write(
            f"Generating {cases:,} cases over {months} months on {connection.vendor} (seed {seed})"
        )
        try:
            stats = generate_cases(
                cases=cases,
                months=months,
                seed=seed,
                batch=batch,
                rebuild_indexes=rebuild,
                parallel=None if parallel else False,
                progress=progress if options["verbosity"] >= 1 else None,
            )
        except NoDemoDistrict as error:
            raise CommandError(str(error)) from None
        if stats.loaded_demo:
            self.stdout.write("Loaded the demo district first (it had no unit grids).")
        for note in stats.notes:
            self.stdout.write(f"Note: {note}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{stats.cases:,} cases, {stats.events:,} events, {stats.reporters:,} reporters, "
                f"{stats.requests:,} requests in {stats.seconds_total:.1f} s ({stats.mode})."
            )
        )
        self.stdout.write(
            f"  cases:   {stats.cases_per_second:,.0f} cases/s (simulation and case rows)\n"
            f"  events:  {stats.events_per_second:,.0f} events/s (events, reporters, requests)\n"
            f"  overall: {stats.overall_per_second:,.0f} cases/s with their events\n"
            f"  steps:   " + ", ".join(f"{k} {v:.1f} s" for k, v in stats.steps.items())
        )
