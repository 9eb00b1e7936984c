"""A signed-in role page against a bare view: what the page stack costs per request."""

from django.test import Client

from bench import median_ms, percentile, report, timed
from org.models import Role, RoleGrant, User


def run() -> None:
    user, _ = User.objects.get_or_create(username="bench-officer")
    RoleGrant.objects.get_or_create(user=user, role=Role.OFFICER)
    client = Client()
    client.force_login(user)
    for url in ("/healthz", "/cases/inbox/"):
        client.get(url)  # warm up
    bare = timed(lambda: client.get("/healthz"), 300)
    page = timed(lambda: client.get("/cases/inbox/"), 300)
    report(
        "officer inbox page (placeholder), in-process",
        goal="within 10x of a bare JSON view",
        figure=f"median {median_ms(page):.2f} ms, p95 {percentile(page, 95) * 1000:.2f} ms",
        floor=f"bare view median {median_ms(bare):.2f} ms",
        ok=median_ms(page) < 10 * median_ms(bare),
    )
