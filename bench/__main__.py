import importlib
import os
import pkgutil
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
django.setup()

from django.core.management import call_command  # noqa: E402

import bench  # noqa: E402

call_command("migrate", verbosity=0)
# In-process page timings run on a heap set up as governance/wsgi.py sets up a served one.
from governance import heap  # noqa: E402

heap.freeze()
only = sys.argv[1:]
for module in sorted(m.name for m in pkgutil.iter_modules(bench.__path__)):
    if module.startswith("bench_") and (not only or module in only):
        print(f"== {module} ==")
        # Each starts from what autovacuum leaves on a production server after the previous
        # one's writes (off on this machine's server): without it, a map tile's index-only
        # reads walked the pages another benchmark had just written (28,807 table reads for
        # 15,786 rows).
        bench.vacuum()
        importlib.import_module(f"bench.{module}").run()
