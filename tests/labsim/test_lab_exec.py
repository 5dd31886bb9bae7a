"""Exec over websocket (channel.k8s.io v5 and v4) and what simulated commands print."""

import json
import ssl

import pytest
import websocket
from kubernetes import client
from kubernetes.stream import stream

from tests.labsim.lab_helpers import NAMESPACE, create_nads, pod_body

pytestmark = pytest.mark.timeout(60)


def run(lab, pod: str, command: list[str], namespace: str = NAMESPACE):
    """Run a command through the official client; returns (stdout, stderr, exit code, status)."""
    core = client.CoreV1Api(lab.api_client())  # stream() needs its own ApiClient
    response = stream(
        core.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        command=command,
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
        _preload_content=False,
    )
    response.run_forever(timeout=10)
    stdout, stderr = response.read_stdout(), response.read_stderr()
    code = response.returncode
    return stdout, stderr, code


@pytest.fixture
def running_pods(lab, core, custom):
    create_nads(custom)
    core.create_namespaced_pod(NAMESPACE, pod_body("with-ipc-lock"))
    core.create_namespaced_pod(
        NAMESPACE, pod_body("without-ipc-lock", rails=[0], gpus=1, ipc_lock=False)
    )
    lab.wait_for_pod(NAMESPACE, "with-ipc-lock")
    lab.wait_for_pod(NAMESPACE, "without-ipc-lock")
    return lab


def test_ip_brief_addr_lists_eth0_and_one_interface_per_rail(running_pods):
    stdout, stderr, code = run(running_pods, "with-ipc-lock", ["ip", "-br", "addr"])
    assert (stderr, code) == ("", 0)
    lines = stdout.splitlines()
    assert lines[0].split()[:3] == ["lo", "UNKNOWN", "127.0.0.1/8"]
    assert lines[1].startswith("eth0@if") and lines[1].split()[1] == "UP"
    assert lines[1].split()[2].startswith("10.100.") and lines[1].split()[2].endswith("/32")
    for rail, line in enumerate(lines[2:]):
        name, state, address = line.split()[:3]
        assert (name, state) == (f"net{rail + 1}", "UP")
        assert address == f"10.5{rail}.1.0/16"
    assert len(lines) == 6
    assert lines[2][:33] == "net1             UP             1"  # iproute2 column widths


def test_ip_json_and_link_output(running_pods):
    stdout, _, code = run(running_pods, "with-ipc-lock", ["ip", "-j", "addr"])
    interfaces = json.loads(stdout)
    assert code == 0 and [i["ifname"] for i in interfaces] == [
        "lo",
        "eth0",
        "net1",
        "net2",
        "net3",
        "net4",
    ]
    net1 = interfaces[2]
    assert net1["addr_info"][0] == {
        "family": "inet",
        "local": "10.50.1.0",
        "prefixlen": 16,
        "scope": "global",
        "label": "net1",
        "valid_life_time": 4294967295,
        "preferred_life_time": 4294967295,
    }
    stdout, _, _ = run(running_pods, "with-ipc-lock", ["ip", "-br", "link"])
    assert stdout.splitlines()[0].split() == [
        "lo",
        "UNKNOWN",
        "00:00:00:00:00:00",
        "<LOOPBACK,UP,LOWER_UP>",
    ]


def test_ibv_devinfo_needs_ipc_lock(running_pods):
    stdout, _, code = run(running_pods, "with-ipc-lock", ["ibv_devinfo", "-l"])
    assert code == 0
    assert stdout.splitlines()[0] == "4 HCAs found:"
    devices = [line.strip() for line in stdout.splitlines()[1:] if line.strip()]
    status = running_pods.pod_devices(NAMESPACE, "with-ipc-lock")
    assert devices == [vf["rdma_device"] for vf in status["vfs"]]
    stdout, _, code = run(running_pods, "with-ipc-lock", ["ibv_devinfo"])
    assert code == 0 and stdout.count("hca_id:\t") == 4
    assert "\t\t\tstate:\t\t\tPORT_ACTIVE (4)" in stdout
    assert "link_layer:\t\tEthernet" in stdout
    stdout, stderr, code = run(running_pods, "without-ipc-lock", ["ibv_devinfo"])
    assert (stdout, stderr) == ("", "No IB devices found\n")
    assert code == 255


def test_env_shows_device_plugin_variables(running_pods):
    stdout, _, code = run(running_pods, "with-ipc-lock", ["env"])
    env = dict(line.split("=", 1) for line in stdout.splitlines())
    assert code == 0
    devices = running_pods.pod_devices(NAMESPACE, "with-ipc-lock")
    by_rail = {vf["rail"]: vf for vf in devices["vfs"]}
    assert env["PCIDEVICE_NVIDIA_COM_RAIL0_VF"] == by_rail[0]["pci"]
    info = json.loads(env["PCIDEVICE_NVIDIA_COM_RAIL0_VF_INFO"])
    assert info[by_rail[0]["pci"]]["rdma"]["rdma_dev"] == by_rail[0]["rdma_device"]
    assert "PCIDEVICE_NVIDIA_COM_RAIL4_VF" not in env
    assert len(env["NVIDIA_VISIBLE_DEVICES"].split(",")) == 8
    assert env["HOSTNAME"] == "with-ipc-lock"


def test_numa_node_of_interfaces(running_pods):
    stdout, _, code = run(
        running_pods, "with-ipc-lock", ["cat", "/sys/class/net/net1/device/numa_node"]
    )
    assert (stdout, code) == ("0\n", 0)
    stdout, stderr, code = run(
        running_pods, "with-ipc-lock", ["cat", "/sys/class/net/eth0/device/numa_node"]
    )
    assert stdout == "" and code == 1
    assert stderr == "cat: /sys/class/net/eth0/device/numa_node: No such file or directory\n"


def test_unknown_command_exits_127_with_the_kubelet_status(running_pods):
    stdout, stderr, code = run(running_pods, "with-ipc-lock", ["nccl-tests", "--all"])
    assert code == 127 and stdout == ""
    assert 'exec: "nccl-tests": executable file not found in $PATH' in stderr
    stdout, stderr, code = run(running_pods, "with-ipc-lock", ["sh", "-c", "ip -br addr; nope"])
    assert code == 127 and stderr == "sh: 1: nope: not found\n" and "net1" in stdout


def _raw_exec(lab, protocols: str, command: str = "command=ibv_devinfo&command=-x"):
    url = (
        lab.url.replace("https://", "wss://") + f"/api/v1/namespaces/{NAMESPACE}/pods/"
        f"without-ipc-lock/exec?{command}&stdout=true&stderr=true"
    )
    socket = websocket.create_connection(
        url,
        header=[f"Authorization: Bearer {lab.token}"],
        subprotocols=protocols.split(","),
        sslopt={"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": str(lab.ca_path)},
        timeout=5,
    )
    frames = []
    while True:
        opcode, data = socket.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        frames.append(data)
    chosen = socket.getsubprotocol()
    socket.close()
    return chosen, frames


@pytest.mark.parametrize(
    "protocols,chosen",
    [
        ("v5.channel.k8s.io,v4.channel.k8s.io", "v5.channel.k8s.io"),
        ("v4.channel.k8s.io", "v4.channel.k8s.io"),
        ("v4.channel.k8s.io,v5.channel.k8s.io", "v4.channel.k8s.io"),
    ],
)
def test_subprotocols_framing_and_final_status(running_pods, protocols, chosen):
    selected, frames = _raw_exec(running_pods, protocols)
    assert selected == chosen
    assert frames[0] == b"\x02No IB devices found\n"
    assert frames[-1][:1] == b"\x03"
    assert json.loads(frames[-1][1:]) == {
        "metadata": {},
        "status": "Failure",
        "reason": "NonZeroExitCode",
        "message": "command terminated with non-zero exit code: error executing command "
        "[ibv_devinfo -x], exit code 255",
        "details": {"causes": [{"reason": "ExitCode", "message": "255"}]},
    }
    _, frames = _raw_exec(running_pods, protocols, "command=hostname")
    assert frames == [b"\x01without-ipc-lock\n", b'\x03{"metadata":{},"status":"Success"}']


def test_exec_errors(running_pods, lab):
    status, body = lab.request(
        "GET", f"/api/v1/namespaces/{NAMESPACE}/pods/with-ipc-lock/exec?command=ls&stdout=true"
    )
    assert (status, body["reason"], body["message"]) == (
        400,
        "BadRequest",
        "Upgrade request required",
    )
    status, body = lab.request(
        "GET",
        f"/api/v1/namespaces/{NAMESPACE}/pods/with-ipc-lock/exec?command=ls&stdout=true"
        "&container=sidecar",
    )
    assert body["message"] == "container sidecar is not valid for pod with-ipc-lock"
    with pytest.raises(Exception, match="Handshake status 404"):
        run(lab, "ghost", ["ls"])


def test_pod_logs(running_pods, lab):
    core = client.CoreV1Api(lab.api_client())
    multus = core.list_namespaced_pod("kube-system", label_selector="name=multus").items[0]
    log = core.read_namespaced_pod_log(multus.metadata.name, "kube-system")
    assert log.startswith(f"labsim: kube-multus started on {multus.spec.node_name}\n")
    assert core.read_namespaced_pod_log("with-ipc-lock", NAMESPACE) == ""
    lab.set_fault(unregister_resource={"resource": "nvidia.com/gpu", "nodes": "all"})
    core.create_namespaced_pod(NAMESPACE, pod_body("pending", rails=[], networks=""))
    with pytest.raises(client.ApiException) as raised:
        core.read_namespaced_pod_log("pending", NAMESPACE)
    assert json.loads(raised.value.body)["message"] == "pod pending does not have a host assigned"
