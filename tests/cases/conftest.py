import pytest

from tests.cases.base import CaseWorldMixin, jpeg


@pytest.fixture
def world(transactional_db):
    """The cases' world (tests/cases/base.py) for a test with a live server."""

    class World(CaseWorldMixin):
        pass

    World.make_world()
    return World


@pytest.fixture
def photo_file(tmp_path):
    """A small JPEG written to a file, for a browser's file field."""

    def make(name):
        path = tmp_path / name
        path.write_bytes(jpeg(320, 240, name=name).read())
        return str(path)

    return make
