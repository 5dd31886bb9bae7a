"""Lint YAML against a registered cluster's live NADs and nodes: the lab over HTTPS, read on the
page's thread within a bound."""

import html
import re
import socket
import time

import pytest
from django.urls import reverse

from clusters import facts
from clusters.kube import Kube, KubeError, Target
from clusters.models import Cluster
from planner import manifests
from railstudio.roles import ensure_roles

pytestmark = pytest.mark.django_db

NS = "ai-training"
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: trainer
  namespace: ai-training
  annotations:
    k8s.v1.cni.cncf.io/networks: sriov-rail-0@net1, sriov-rial-1@net2, custom-net@net3
spec:
  containers:
  - name: trainer
    image: nvcr.io/nvidia/pytorch:24.04-py3
    securityContext: {capabilities: {add: [IPC_LOCK, SYS_NICE]}}
    resources:
      limits:
        nvidia.com/rail0_vf: 1
        nvidia.com/rail1_vf: 1
"""


@pytest.fixture(autouse=True)
def roles(db):
    ensure_roles()


@pytest.fixture
def lab_with_nads(lab, lab_cluster, seed_plan):
    """The seed's NADs in the lab, plus one NAD that is in no plan (custom-net)."""
    with Kube(Target(kubeconfig=lab.kubeconfig_path.read_text())) as kube:
        kube.ensure_namespace(NS)
        nads = manifests.render_nads(seed_plan.to_spec())
        for obj in nads:
            kube.apply(obj)
        custom = {**nads[0], "metadata": {**nads[0]["metadata"], "name": "custom-net"}}
        kube.apply(custom)
    return lab_cluster


def codes(response) -> list[str]:
    return re.findall(r'data-code="([A-Z_]+)"', response.content.decode())


def text_of(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def test_the_live_nads_of_the_cluster_are_the_context(as_viewer, lab_with_nads):
    cluster = lab_with_nads
    page = text_of(as_viewer.get(reverse("lint")))
    assert f'<option value="{cluster.pk}" >lab (lab)</option>' in page

    alone = as_viewer.post(reverse("lint"), {"yaml": POD})
    assert "NAD_UNVERIFIED" in codes(alone) and "NAD_NOT_FOUND" not in codes(alone)

    checked = as_viewer.post(reverse("lint"), {"yaml": POD, "cluster": cluster.pk})
    assert checked.status_code == 200
    found = codes(checked)
    assert found.count("NAD_NOT_FOUND") == 1 and "NAD_UNVERIFIED" not in found
    text = text_of(checked)
    assert 'Did you mean "sriov-rail-1"?' in text  # from the live NADs, no plan picked
    assert "custom-net" not in re.findall(r"NAD_NOT_FOUND.*?</li>", text)[0]  # it exists live
    assert re.search(
        r"Checked against <strong>lab</strong>: 9 NADs in 1 namespace, 4 nodes, read at", text
    )
    assert f'<option value="{cluster.pk}" selected>' in text


def test_live_facts_count_what_the_cluster_has(lab_with_nads):
    live = facts.read_live_facts(Target(kubeconfig=lab_with_nads.kubeconfig_text()))
    assert (live.nads, live.namespaces, live.nodes, live.multus) == (9, 1, 4, True)
    names = {nad["name"] for nad in live.facts["nads"]}
    assert {"sriov-rail-0", "custom-net"} <= names


def test_a_cluster_that_does_not_answer_is_said_within_the_bound(as_viewer, seed_plan, settings):
    """A server that accepts the connection and never answers: the page gives up after the read
    timeout of LIVE_TIMEOUT (5 s) instead of holding the web thread for the client's usual 30 s
    times six attempts."""
    settings.RAILSTUDIO_ALLOW_INSECURE_TLS = True  # the silent server has no certificate at all
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nothing ever reads or answers
    cluster = Cluster(name="silent", server=f"https://127.0.0.1:{silent.getsockname()[1]}")
    cluster.set_kubeconfig(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        f"clusters: [{{name: c, cluster: {{server: '{cluster.server}', "
        "insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
    )
    cluster.save()
    started = time.monotonic()
    try:
        response = as_viewer.post(reverse("lint"), {"yaml": POD, "cluster": cluster.pk})
    finally:
        silent.close()
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    text = text_of(response)
    assert "Could not read the NADs of silent, so nothing was checked: Cannot reach the API" in text
    assert "data-code=" not in text
    assert elapsed < 3 * facts.LIVE_TIMEOUT[1]  # one attempt, bounded; not 6 x 30 s


def test_lint_against_a_cluster_reads_the_database_a_few_times_however_many_clusters(
    as_viewer, lab_with_nads, django_assert_max_num_queries
):
    for number in range(5):
        Cluster.objects.create(name=f"other-{number}", server="https://10.9.9.9:6443")
    with django_assert_max_num_queries(8):
        response = as_viewer.post(reverse("lint"), {"yaml": POD, "cluster": lab_with_nads.pk})
    assert response.status_code == 200 and "NAD_NOT_FOUND" in codes(response)


def test_an_unknown_cluster_is_refused_by_name(as_viewer):
    response = as_viewer.post(reverse("lint"), {"yaml": POD, "cluster": "9999"})
    assert response.status_code == 422
    assert "That cluster is no longer registered" in text_of(response)


def test_reading_an_unreachable_cluster_raises_a_kube_error_at_once():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    kubeconfig = (
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
    )
    with pytest.raises(KubeError, match="Cannot reach the API server"):
        facts.read_live_facts(Target(kubeconfig=kubeconfig))


def test_the_api_checks_against_the_cluster_for_a_viewer(viewer_api, lab_with_nads, seed_plan):
    url = f"/api/clusters/{lab_with_nads.pk}/preflight/"
    response = viewer_api.post(url, {"yaml": POD}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["cluster"] == {"nads": 9, "namespaces": 1, "nodes": 4, "multus": True}
    assert [f["code"] for f in body["findings"]].count("NAD_NOT_FOUND") == 1
    with_plan = viewer_api.post(url, {"yaml": POD, "plan": seed_plan.slug}, format="json")
    assert with_plan.status_code == 200 and with_plan.json()["objects"] == 1
    refused = viewer_api.post(url, {"yaml": POD, "facts": {"nads": []}}, format="json")
    assert refused.status_code == 400 and "facts" in refused.json()
    bad = viewer_api.post(url, {"yaml": "kind: [x\n"}, format="json")
    assert bad.status_code == 400 and "line" in bad.json()["yaml"][0]
