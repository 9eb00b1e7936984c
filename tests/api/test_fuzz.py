"""Fuzzing the OpenAPI schema with Schemathesis: no request, however odd, gets a 500 or a
response the schema does not describe. Bounded: a fixed number of examples per operation,
derandomised so that CI runs the same requests each time."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from keys.models import ApiKey, PersonalToken
from keys.scopes import scope_choices
from org.models import Role
from tests.api.base import ApiWorldMixin, reset_login_throttle
from tests.base import make_person

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 12


class World(ApiWorldMixin):
    pass


def fuzz(operation, headers, **fixed):
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(headers=headers, **fixed))
    def run(case):
        case.call_and_validate(checks=CHECKS)

    run()


@pytest.fixture
def same_connection():
    """Serve requests on the test's own database connection, in its transaction, as
    Django's test client does: the WSGI handler would otherwise close it after each
    request (and reopening SpatiaLite costs more than the request)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_the_api_holds_to_its_schema_under_fuzzing(same_connection):
    World.make_api_world()
    reset_login_throttle()
    _, token = PersonalToken.issue(user=World.ada)
    integration = make_person("integration", Role.DISPATCHER, Role.SHIFT_LEADER)
    _, key = ApiKey.issue(
        name="fuzz",
        user=integration,
        scopes=[scope for scope, _ in scope_choices()],
        all_areas=True,
        rate_limit=1_000_000,
    )
    callers = {
        "administrator": {"Authorization": f"Token {token}"},
        "api key": {"Authorization": f"Api-Key {key}"},
    }
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/schema/", get_wsgi_application(), headers=callers["administrator"]
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12, [op.label for op in operations]
    for caller, headers in callers.items():
        for operation in operations:
            if operation.path.endswith("/auth/token/revoke/") and caller == "administrator":
                # Would revoke the token the rest of the run uses; tested in test_keys.
                continue
            label = f"{caller}: {operation.label}"
            try:
                fuzz(operation, headers)
                if "{id}" in operation.path:
                    # Random ids mostly miss: also fuzz the rest on a case that exists.
                    fuzz(operation, headers, path_parameters={"id": World.case_a.pk})
            except Exception as error:
                raise AssertionError(f"{label}: {error}") from error
