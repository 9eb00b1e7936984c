"""GridGov's settings, with bench_api's floor view beside every real address."""

from governance.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
