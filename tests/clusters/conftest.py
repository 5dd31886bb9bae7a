import pytest

from labsim.testing import SEED_SPEC, running_lab


@pytest.fixture
def lab(tmp_path):
    """A fresh seed lab cluster (4 nodes x 8 GPUs x 8 rails) over HTTPS on loopback."""
    with running_lab(SEED_SPEC, tmp_path) as handle:
        yield handle


@pytest.fixture
def lab_cluster(lab, seed_plan):
    from clusters.models import Cluster

    cluster = Cluster(name="lab", server=lab.url, is_lab=True)
    cluster.set_kubeconfig(lab.kubeconfig_path.read_text())
    cluster.save()
    cluster.plans.add(seed_plan)
    return cluster
