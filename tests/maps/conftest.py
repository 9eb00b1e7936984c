import pytest


@pytest.fixture(autouse=True)
def empty_map_cache():
    """Each test starts with no cached layer. Inside a TestCase's transaction no commit
    happens, so the case version never moves; a layer cached by an earlier test (other
    rows, same version) would otherwise be served."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
