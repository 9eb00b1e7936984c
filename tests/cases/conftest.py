import pytest

from tests.cases.base import CaseWorldMixin


@pytest.fixture
def world(transactional_db):
    """The cases' world (tests/cases/base.py) for a test with a live server."""

    class World(CaseWorldMixin):
        pass

    World.make_world()
    return World
