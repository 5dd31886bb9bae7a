"""The HTTPS server: routes, authentication, faults at the HTTP level, start and stop."""

import asyncio
import hmac
import socket
import tempfile
from pathlib import Path

from aiohttp import web

from labsim.api import ResourceApi
from labsim.faults import FaultError
from labsim.lab import Lab
from labsim.meta import dumps
from labsim.openapi import PROTOBUF_MEDIA_TYPE, OpenApi
from labsim.spec import LabSpec
from labsim.status import ApiError, service_unavailable, unauthorized
from labsim.tls import Credentials, make_credentials, write_kubeconfig

ADMIN_PREFIX = "/labsim/admin"
JSON = "application/json"
# The apiserver reads up to 1 MiB of request line and headers (Go's http.Server MaxHeaderBytes);
# batched exec commands travel in the URL's query.
MAX_REQUEST_LINE_BYTES = 1 << 20


def _json(body, status: int = 200) -> web.Response:
    return web.Response(status=status, body=dumps(body), content_type=JSON)


class LabServer:
    """Serves one Lab over HTTPS on host:port (port 0 picks a free one)."""

    def __init__(
        self,
        spec: LabSpec,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        workdir: Path | None = None,
    ):
        self.host = host
        self.port = port
        self.credentials: Credentials = make_credentials([host, "127.0.0.1"], token)
        self.lab = Lab(spec, self.credentials.ca_pem)
        self.lab.on_unavailable = self._on_unavailable
        self.openapi = OpenApi(spec.kubernetes_version, self.lab.registry)
        self._workdir = workdir
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self._ssl = None
        self._reopen: asyncio.TimerHandle | None = None
        self._held_port: socket.socket | None = None
        self.stopped = asyncio.Event()

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def token(self) -> str:
        return self.credentials.token

    # Lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="labsim-")
            self._workdir = Path(self._tmp.name)
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._ssl = self.credentials.server_context(self._workdir)
        self.lab.start()
        self._runner = web.AppRunner(
            self.build_app(),
            access_log=None,
            shutdown_timeout=2.0,
            handle_signals=False,
            max_line_size=MAX_REQUEST_LINE_BYTES,
        )
        await self._runner.setup()
        await self._listen()
        self.lab.publish_apiserver(self.port)

    async def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._site = web.SockSite(self._runner, sock, ssl_context=self._ssl, backlog=512)
        await self._site.start()

    async def stop(self) -> None:
        if self._reopen:
            self._reopen.cancel()
        self._release_port()
        await self.lab.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self.stopped.set()

    def write_kubeconfig(self, path: Path) -> None:
        write_kubeconfig(path, self.url, self.credentials, self.lab.spec.name)

    def _on_unavailable(self, mode: str, seconds: float) -> None:
        if mode == "refuse":
            asyncio.get_running_loop().call_later(0.05, self._refuse, seconds)

    def _refuse(self, seconds: float) -> None:
        """Close the listening socket and every watch, and reopen on the same port later."""

        async def close_site():
            if self._site is not None:
                await self._site.stop()
                self._site = None
                self._hold_port()
            self.lab.store.close_all_watches()

        loop = asyncio.get_running_loop()
        loop.create_task(close_site())
        if self._reopen:
            self._reopen.cancel()
        self._reopen = loop.call_later(seconds, lambda: loop.create_task(self._listen_again()))

    def _hold_port(self) -> None:
        """Keep the port bound but not listening while the API is down: connections are still
        refused, and no other process on the machine can take the port meanwhile."""
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            return
        self._held_port = sock

    def _release_port(self) -> None:
        if self._held_port is not None:
            self._held_port.close()
            self._held_port = None

    async def _listen_again(self) -> None:
        self._reopen = None
        self._release_port()
        if self._runner is not None and self._site is None:
            await self._listen()

    # Application -------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._errors, self._faults, self._auth], client_max_size=64 * 1024 * 1024
        )
        api = ResourceApi(self.lab)
        registry = self.lab.registry

        async def api_versions(request):
            return _json(registry.api_versions(f"{self.host}:{self.port}"))

        async def api_groups(request):
            return _json(registry.api_group_list())

        async def core_resources(request):
            return _json(registry.resource_list("", "v1"))

        for path, handler in (
            ("/version", self._version),
            ("/api", api_versions),
            ("/apis", api_groups),
            ("/api/v1", core_resources),
            ("/apis/{group}", self._group),
            ("/apis/{group}/{version}", self._group_version),
            ("/healthz", self._health),
            ("/readyz", self._health),
            ("/livez", self._health),
            ("/openapi/v2", self._openapi),
        ):
            app.router.add_get(path, handler)
            app.router.add_get(path + "/", handler)
        app.router.add_route("*", "/api/{version}/{tail:.+}", api.core)
        app.router.add_route("*", "/apis/{group}/{version}/{tail:.+}", api.grouped)
        app.router.add_route("*", ADMIN_PREFIX + "/faults", self._admin_faults)
        app.router.add_get(ADMIN_PREFIX + "/pods/{namespace}/{name}", self._admin_pod)
        app.router.add_get(ADMIN_PREFIX + "/state", self._admin_state)
        return app

    @web.middleware
    async def _errors(self, request, handler):
        try:
            return await handler(request)
        except ApiError as error:
            return web.Response(status=error.code, body=error.body(), content_type=JSON)
        except web.HTTPNotFound:
            return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
        except web.HTTPMethodNotAllowed:
            return web.Response(
                status=405, text="405 method not allowed\n", content_type="text/plain"
            )

    @web.middleware
    async def _auth(self, request, handler):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), self.token):
            raise unauthorized()
        return await handler(request)

    @web.middleware
    async def _faults(self, request, handler):
        if request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        faults = self.lab.faults
        if faults.unavailable():
            if faults.unavailable_mode == "refuse" and request.transport is not None:
                request.transport.close()
            return web.Response(status=503, body=service_unavailable().body(), content_type=JSON)
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        return await handler(request)

    # Discovery and health ----------------------------------------------------------------

    async def _version(self, request):
        version = self.lab.spec.kubernetes_version
        major, minor = version.lstrip("v").split(".")[:2]
        return _json(
            {
                "major": major,
                "minor": minor,
                "gitVersion": version,
                "gitCommit": "labsim",
                "gitTreeState": "clean",
                "buildDate": "2024-08-14T00:00:00Z",
                "goVersion": "go1.22.5",
                "compiler": "gc",
                "platform": "linux/amd64",
            }
        )

    async def _group(self, request):
        group = request.match_info["group"]
        if group not in self.lab.registry.group_versions or not group:
            return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
        return _json(self.lab.registry.api_group(group))

    async def _group_version(self, request):
        group, version = request.match_info["group"], request.match_info["version"]
        if not group or not self.lab.registry.serves(group, version):
            return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
        return _json(self.lab.registry.resource_list(group, version))

    async def _health(self, request):
        if "verbose" in request.query:
            name = request.path.strip("/").split("/")[0]
            return web.Response(
                text=f"[+]ping ok\n[+]etcd ok\n{name} check passed\n", content_type="text/plain"
            )
        return web.Response(text="ok", content_type="text/plain")

    async def _openapi(self, request):
        if "protobuf" in request.headers.get("Accept", ""):
            body = await asyncio.to_thread(self.openapi.protobuf)
            return web.Response(body=body, content_type=PROTOBUF_MEDIA_TYPE)
        body = await asyncio.to_thread(self.openapi.json)
        return web.Response(body=body, content_type=JSON)

    # Admin -------------------------------------------------------------------------------

    async def _admin_faults(self, request):
        try:
            if request.method == "GET":
                return _json(self.lab.faults.as_dict())
            if request.method == "POST":
                try:
                    changes = await request.json()
                except ValueError:
                    return _json({"error": "body must be a JSON object"}, 400)
                return _json(self.lab.apply_faults(changes))
            if request.method == "DELETE":
                return _json(self.lab.clear_faults(request.query.get("name")))
        except FaultError as error:
            return _json({"error": str(error)}, 400)
        return _json({"error": "use GET, POST or DELETE"}, 405)

    async def _admin_pod(self, request):
        devices = self.lab.pod_devices(request.match_info["namespace"], request.match_info["name"])
        if devices is None:
            return _json({"error": "pod has no devices or is not running on a node"}, 404)
        return _json(devices)

    async def _admin_state(self, request):
        kubelet = self.lab.kubelet
        return _json(
            {
                "resourceVersion": self.lab.store.rv,
                "objects": {
                    t.qualified_name: self.lab.store.count(t) for t in self.lab.registry.types
                },
                "unschedulable": sorted(kubelet.unschedulable),
                "sandbox_waiting": sorted(kubelet.sandbox_waiting),
                "faults": self.lab.faults.as_dict(),
            }
        )
