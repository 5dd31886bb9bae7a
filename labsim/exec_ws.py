"""`pods/exec` over a websocket with the channel.k8s.io subprotocols (v5 and v4).

Each binary message starts with its channel byte: 1 stdout, 2 stderr, 3 the final status.
"""

import asyncio
import json

from aiohttp import WSMsgType, web

from labsim.execsim import PodView
from labsim.status import bad_request

SUBPROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDOUT, STDERR, STATUS = 1, 2, 3


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


def exit_status(command: list[str], exit_code: int) -> dict:
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "reason": "NonZeroExitCode",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"[{' '.join(command)}], exit code {exit_code}",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
    }


def _container(pod: dict, requested: str | None) -> str:
    name = pod["metadata"]["name"]
    names = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    if not requested:
        if len(names) != 1:
            raise bad_request(
                f"a container name must be specified for pod {name}, choose one "
                f"of: [{' '.join(names)}]"
            )
        return names[0]
    if requested not in names:
        raise bad_request(f"container {requested} is not valid for pod {name}")
    return requested


def pod_view(lab, pod: dict, requested_container: str | None, for_exec: bool) -> PodView:
    """Resolve the container and check it runs, as the apiserver and kubelet do."""
    name = pod["metadata"]["name"]
    container = _container(pod, requested_container)
    phase = (pod.get("status") or {}).get("phase")
    if for_exec and phase in ("Succeeded", "Failed"):
        raise bad_request(
            f"cannot exec into a container in a completed pod; current phase is {phase}"
        )
    if not (pod.get("spec") or {}).get("nodeName"):
        raise bad_request(f"pod {name} does not have a host assigned")
    runtime = lab.runtime(pod["metadata"].get("namespace", ""), name)
    if runtime is None or not runtime.running:
        if for_exec:
            raise bad_request(f'container not found ("{container}")')
        raise bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
        )
    devices = runtime.devices
    return PodView(
        pod=pod,
        container=container,
        interfaces=runtime.interfaces,
        capabilities=runtime.capabilities.get(container, set()),
        gpus=devices.gpus if devices else [],
        vfs=devices.vfs if devices else {},
    )


async def serve_exec(request: web.Request, lab, pod: dict) -> web.StreamResponse:
    query = request.query
    command = query.getall("command", [])
    view = pod_view(lab, pod, query.get("container"), for_exec=True)
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise bad_request("Upgrade request required")
    if not command:
        raise bad_request("you must specify at least 1 command")
    if not (
        truthy(query.get("stdout")) or truthy(query.get("stderr")) or truthy(query.get("stdin"))
    ):
        raise bad_request("you must specify at least one of stdin, stdout, stderr")
    socket = web.WebSocketResponse(protocols=SUBPROTOCOLS, autoping=True)
    await socket.prepare(request)
    try:
        result = await lab.probes.run(command, view)
        if truthy(query.get("stdin")):
            await _drain_stdin(socket)
        if result.stdout and truthy(query.get("stdout")):
            await socket.send_bytes(bytes([STDOUT]) + result.stdout.encode())
        if result.stderr and truthy(query.get("stderr")):
            await socket.send_bytes(bytes([STDERR]) + result.stderr.encode())
        status = json.dumps(exit_status(command, result.exit_code), separators=(",", ":"))
        await socket.send_bytes(bytes([STATUS]) + status.encode())
    finally:
        await socket.close()
    return socket


async def _drain_stdin(socket: web.WebSocketResponse) -> None:
    """Simulated commands read no input; wait briefly for the client to close stdin."""
    try:
        async with asyncio.timeout(0.05):
            async for message in socket:
                if message.type != WSMsgType.BINARY:
                    break
                if message.data[:2] == bytes([255, 0]):
                    break
    except TimeoutError:
        return
