import pytest


@pytest.fixture
def lab_cluster(lab, seed_plan):
    from clusters.models import Cluster

    cluster = Cluster(name="lab", server=lab.url, is_lab=True)
    cluster.set_kubeconfig(lab.kubeconfig_path.read_text())
    cluster.save()
    cluster.plans.add(seed_plan)
    return cluster
