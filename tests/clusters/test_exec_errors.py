"""Exec refused by the API server reads as the server said it (the Status message hidden in the
websocket handshake's body), and the pod page says why commands are unavailable instead of
offering them."""

import http.server
import socket
import threading

import pytest
import yaml

from clusters import execution
from clusters.kube import Kube, KubeError, Target
from clusters.kubeconfig_policy import Policy
from clusters.models import ExecRun
from tests.labsim.lab_helpers import NAMESPACE, pod_body

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def pending_pod(lab):
    """A pod no node can take (it asks for a VF resource nobody advertises): Pending, no host."""
    kube = Kube(Target(kubeconfig=lab.kubeconfig_path.read_text()))
    kube.ensure_namespace(NAMESPACE)
    pod = pod_body("pending", rails=[], gpus=0, vfs={"nvidia.com/rail9_vf": "1"})
    pod["metadata"]["namespace"] = NAMESPACE
    kube.create_pod(pod)
    pod = kube.get("v1", "Pod", "pending", NAMESPACE)
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
    yield kube
    kube.close()


def test_exec_on_a_pending_pod_raises_the_api_servers_status_message(pending_pod):
    with pytest.raises(KubeError) as raised:
        pending_pod.exec(NAMESPACE, "pending", ["ip", "-br", "addr"])
    error = raised.value
    assert (error.status, error.reason, error.message) == (
        400,
        "BadRequest",
        "pod pending does not have a host assigned",
    )
    assert not error.transient and "Handshake" not in str(error) and "-+-+-" not in str(error)
    with pytest.raises(KubeError) as raised:
        pending_pod.exec(NAMESPACE, "ghost", ["ip", "-br", "addr"])
    assert (raised.value.status, raised.value.reason) == (404, "NotFound")
    assert raised.value.message == 'pods "ghost" not found'


@pytest.mark.django_db
def test_the_exec_run_records_the_refusal_as_kubectl_prints_it(pending_pod, lab_cluster):
    run = ExecRun.objects.create(
        cluster=lab_cluster, namespace=NAMESPACE, pod="pending", command="ip -br addr"
    )
    run = execution.execute(run.pk)
    assert run.error == "Error from server (BadRequest): pod pending does not have a host assigned"
    assert run.exit_code is None and run.done


class _BadGateway(http.server.BaseHTTPRequestHandler):
    """A proxy in front of the API server that answers every request with an HTML error page."""

    def do_GET(self):
        body = b"<html><body><h1>502 Bad Gateway</h1>secret internal hostname</body></html>"
        self.send_response(502, "Bad Gateway")
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


PLAIN_HTTP = Policy(allow_http=True)  # these fake servers speak plain HTTP


def _kubeconfig(server: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }
    )


def test_a_handshake_refused_without_a_status_names_the_http_status_not_the_body():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BadGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with (
            Kube(Target(kubeconfig=_kubeconfig(url), policy=PLAIN_HTTP)) as kube,
            pytest.raises(KubeError) as raised,
        ):
            kube.exec(NAMESPACE, "pod", ["env"], timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    error = raised.value
    assert error.status == 502 and error.transient
    assert error.message == "the API server refused the websocket with HTTP 502 Bad Gateway"
    assert "secret internal hostname" not in str(error)
    assert execution.refusal_text(error) == (
        "Error from server (Bad Gateway): the API server refused the websocket with HTTP 502 "
        "Bad Gateway"
    )


def test_exec_against_nothing_listening_says_it_cannot_reach_the_server():
    url = _url_nobody_listens_on()
    with (
        Kube(Target(kubeconfig=_kubeconfig(url), policy=PLAIN_HTTP)) as kube,
        pytest.raises(KubeError) as raised,
    ):
        kube.exec(NAMESPACE, "pod", ["env"], timeout=5)
    assert raised.value.status is None and raised.value.transient
    assert raised.value.message.startswith("Cannot reach the API server: ")
    assert execution.refusal_text(raised.value) == f"The exec call failed: {raised.value.message}"


def _url_nobody_listens_on() -> str:
    """A loopback port that was free a moment ago (bound, then closed)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------------------------------------
# What the exec panel offers (pure: the snapshot's report)

RUNNING = {"name": "trainer", "state": "running", "reason": None}


@pytest.mark.parametrize(
    ("report", "containers", "why"),
    [
        (
            {"name": "w", "phase": "Running", "node": "n1", "containers": [RUNNING]},
            ("trainer",),
            "",
        ),
        (
            {
                "name": "pending",
                "phase": "Pending",
                "node": None,
                "reason": "Unschedulable",
                "message": "0/4 nodes are available: 4 Insufficient nvidia.com/rail9_vf.",
                "containers": [],
            },
            (),
            "Commands need a running container: pending is Pending and not scheduled to a node "
            "yet (0/4 nodes are available: 4 Insufficient nvidia.com/rail9_vf).",
        ),
        (
            {
                "name": "typo",
                "phase": "Pending",
                "node": "gpu-node-1",
                "containers": [
                    {"name": "trainer", "state": "waiting", "reason": "ContainerCreating"}
                ],
            },
            (),
            "Commands need a running container: typo is Pending on gpu-node-1 but none of its "
            "containers runs yet (trainer: ContainerCreating).",
        ),
        (
            {"name": "job", "phase": "Succeeded", "node": "n1", "containers": []},
            (),
            "Commands need a running container: job has finished (Succeeded): it has no running "
            "container.",
        ),
        (
            {
                "name": "two",
                "phase": "Running",
                "node": "n1",
                "containers": [
                    RUNNING,
                    {"name": "sidecar", "state": "waiting", "reason": "CrashLoopBackOff"},
                ],
            },
            ("trainer",),
            "",
        ),
    ],
)
def test_commands_are_offered_only_in_running_containers(report, containers, why):
    found = execution.availability(report)
    assert (found.containers, found.why, found.available) == (containers, why, bool(containers))
