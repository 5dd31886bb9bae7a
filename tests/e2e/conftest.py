import pytest

from labsim.testing import SEED_SPEC, running_lab


@pytest.fixture
def lab(tmp_path):
    with running_lab(SEED_SPEC, tmp_path) as handle:
        yield handle
