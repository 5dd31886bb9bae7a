"""Start a lab cluster from tests, in-process (a background thread with its own event loop)
or as a subprocess, and talk to its admin endpoint.

    from labsim.testing import SEED_SPEC, running_lab

    with running_lab(SEED_SPEC, tmp_path) as lab:          # or subprocess=True
        api = kubernetes.client.CoreV1Api(lab.api_client())
        lab.set_fault(unregister_resource={"resource": "nvidia.com/rail3_vf", "nodes": "all"})
        lab.clear_faults()

API:
- ``start_lab(spec, tmp_dir, *, subprocess=False, host="127.0.0.1", port=0, token=None)``
  returns a started ``LabHandle``; ``spec`` is a path, or a dict in the spec format.
- ``running_lab(...)``: the same as a context manager that stops the lab on exit.
- ``LabHandle`` attributes: ``url``, ``kubeconfig_path``, ``token``, ``ca_path``, ``spec_name``.
- ``LabHandle`` methods:
  ``api_client()`` a fresh ``kubernetes.client.ApiClient`` from the kubeconfig (use one per
  ``stream()`` call); ``dynamic_client()`` a ``kubernetes.dynamic.DynamicClient`` with its
  discovery cache in ``tmp_dir``; ``request(method, path, body=None, content_type=...)``
  raw HTTPS with the bearer token, returning ``(status, parsed body)``;
  ``attach(kubeconfig_path)`` is a handle on a lab started elsewhere (``labcluster up``);
  ``set_fault(**faults)`` / ``set_faults(dict)``, ``clear_faults(name=None)``, ``faults()``
  (see ``labsim.faults`` for the fault names); ``pod_devices(namespace, name)`` which GPUs,
  VFs and NUMA nodes a pod got; ``wait_for_pod(namespace, name, phase="Running",
  timeout=10)``; ``stop()`` (bounded: at most ~15 s).
"""

import asyncio
import base64
import contextlib
import json
import os
import re
import select
import signal
import socket
import ssl
import subprocess as subprocesses
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import yaml

SEED_SPEC = Path(__file__).parent / "specs" / "seed.yaml"
_URL = re.compile(r"https://\S+")


class LabHandle:
    def __init__(
        self,
        url: str,
        kubeconfig_path: Path,
        token: str,
        ca_path: Path,
        spec_name: str,
        tmp_dir: Path,
        stopper,
    ):
        self.url = url
        self.kubeconfig_path = kubeconfig_path
        self.token = token
        self.ca_path = ca_path
        self.spec_name = spec_name
        self.tmp_dir = tmp_dir
        self._stopper = stopper
        self._ssl = ssl.create_default_context(cafile=str(ca_path))

    def __enter__(self) -> "LabHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self._stopper is not None:
            stopper, self._stopper = self._stopper, None
            stopper()

    # Clients -----------------------------------------------------------------------------

    def api_client(self):
        from kubernetes import config

        return config.new_client_from_config(
            config_file=str(self.kubeconfig_path), persist_config=False
        )

    def dynamic_client(self):
        from kubernetes.dynamic import DynamicClient

        cache = self.tmp_dir / f"discovery-{self.url.rsplit(':', 1)[-1]}.json"
        return DynamicClient(self.api_client(), cache_file=str(cache))

    def request(
        self,
        method: str,
        path: str,
        body=None,
        content_type: str = "application/json",
        timeout: float = 10,
    ):
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": content_type,
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, context=self._ssl, timeout=timeout) as response:
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _decode(error.read())

    # Admin -------------------------------------------------------------------------------

    def faults(self) -> dict:
        return self._admin("GET", "/labsim/admin/faults")

    def set_faults(self, faults: dict) -> dict:
        state = self._admin("POST", "/labsim/admin/faults", faults)
        unavailable = faults.get("unavailable") or {}
        if unavailable.get("mode") == "refuse":
            self._wait_until_refusing(float(unavailable.get("seconds", 1)))
        return state

    def set_fault(self, **faults) -> dict:
        return self.set_faults(faults)

    def clear_faults(self, name: str | None = None) -> dict:
        suffix = f"?name={name}" if name else ""
        return self._admin("DELETE", "/labsim/admin/faults" + suffix)

    def pod_devices(self, namespace: str, name: str) -> dict:
        return self._admin("GET", f"/labsim/admin/pods/{namespace}/{name}")

    def _admin(self, method: str, path: str, body=None) -> dict:
        status, payload = self.request(method, path, body)
        if status >= 400:
            raise RuntimeError(f"labsim admin {method} {path} -> {status}: {payload}")
        return payload

    def _wait_until_refusing(self, seconds: float) -> None:
        host, port = self.url.removeprefix("https://").rsplit(":", 1)
        deadline = time.monotonic() + min(seconds, 2.0)
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host, int(port)), timeout=0.2):
                    pass
            except OSError:
                return
            time.sleep(0.01)

    def wait_for_pod(
        self, namespace: str, name: str, phase: str = "Running", timeout: float = 10
    ) -> dict:
        deadline = time.monotonic() + timeout
        pod: dict = {}
        while time.monotonic() < deadline:
            status, pod = self.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
            if status == 200 and (pod.get("status") or {}).get("phase") == phase:
                return pod
            time.sleep(0.02)
        raise TimeoutError(
            f"pod {namespace}/{name} not {phase} after {timeout}s: "
            f"{(pod.get('status') or {}).get('phase')}"
        )


def _decode(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _spec_file(spec, tmp_dir: Path) -> Path:
    if isinstance(spec, dict):
        path = tmp_dir / "lab-spec.json"
        path.write_text(json.dumps(spec))
        return path
    return Path(spec)


def _handle_from_kubeconfig(
    url: str, kubeconfig: Path, tmp_dir: Path, spec_name: str | None, stopper
) -> LabHandle:
    config = yaml.safe_load(kubeconfig.read_text())
    token = config["users"][0]["user"]["token"]
    ca_path = tmp_dir / "lab-ca.crt"
    ca_path.write_bytes(
        base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
    )
    name = spec_name or config["clusters"][0]["name"]  # the kubeconfig names the lab
    return LabHandle(url, kubeconfig, token, ca_path, name, tmp_dir, stopper)


def attach(kubeconfig_path: Path) -> LabHandle:
    """A handle on a lab someone else started (its admin endpoint and clients); stop() does
    nothing."""
    kubeconfig_path = Path(kubeconfig_path)
    config = yaml.safe_load(kubeconfig_path.read_text())
    url = config["clusters"][0]["cluster"]["server"]
    tmp_dir = Path(tempfile.mkdtemp(prefix="labsim-attach-"))
    return _handle_from_kubeconfig(url, kubeconfig_path, tmp_dir, None, None)


def start_lab(
    spec=SEED_SPEC,
    tmp_dir=None,
    *,
    subprocess: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
) -> LabHandle:
    """Start a lab and return its handle; call ``stop()`` (or use ``running_lab``)."""
    if tmp_dir is None:
        tmp_dir = Path(tempfile.mkdtemp(prefix="labsim-test-"))
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    if subprocess:
        return _start_subprocess(spec, tmp_dir, host, port, token)
    return _start_in_thread(spec, tmp_dir, host, port, token)


@contextlib.contextmanager
def running_lab(spec=SEED_SPEC, tmp_dir=None, **options) -> Iterator[LabHandle]:
    handle = start_lab(spec, tmp_dir, **options)
    try:
        yield handle
    finally:
        handle.stop()


def _start_in_thread(spec, tmp_dir: Path, host: str, port: int, token) -> LabHandle:
    from labsim.server import LabServer
    from labsim.spec import load_spec

    lab_spec = load_spec(spec)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="labsim", daemon=True)
    thread.start()
    holder = {}

    async def start():
        server = LabServer(lab_spec, host=host, port=port, token=token, workdir=tmp_dir / "server")
        await server.start()
        holder["server"] = server

    try:
        asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        raise
    server = holder["server"]
    kubeconfig = tmp_dir / "lab.kubeconfig"
    server.write_kubeconfig(kubeconfig)

    def stop():
        try:
            asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            if not thread.is_alive():
                loop.close()

    handle = _handle_from_kubeconfig(server.url, kubeconfig, tmp_dir, lab_spec.name, stop)
    handle.server = server
    handle.loop = loop
    return handle


def _start_subprocess(spec, tmp_dir: Path, host: str, port: int, token) -> LabHandle:
    spec_path = _spec_file(spec, tmp_dir)
    kubeconfig = tmp_dir / "lab.kubeconfig"
    command = [
        sys.executable,
        "-m",
        "labsim",
        "serve",
        "--spec",
        str(spec_path),
        "--host",
        host,
        "--port",
        str(port),
        "--kubeconfig",
        str(kubeconfig),
    ]
    if token:
        command += ["--token", token]
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    log = (tmp_dir / "labsim.log").open("w")
    process = subprocesses.Popen(command, stdout=subprocesses.PIPE, stderr=log, text=True, env=env)
    url = _read_url(process, timeout=60)
    if url is None:
        process.kill()
        process.wait(5)
        log.close()
        raise RuntimeError(f"labsim did not start; see {tmp_dir / 'labsim.log'}")

    def stop():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocesses.TimeoutExpired:
                process.kill()
                process.wait(5)
        if process.stdout:
            log.write(process.stdout.read())
            process.stdout.close()
        log.close()

    handle = _handle_from_kubeconfig(url, kubeconfig, tmp_dir, None, stop)
    handle.process = process
    return handle


def _read_url(process, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            line = process.stdout.readline()
            match = _URL.search(line or "")
            if match:
                return match.group(0)
    return None
