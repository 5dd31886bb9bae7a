"""The only module that talks to Kubernetes: one official client per cluster, never the global
default. Errors come out as KubeError with the API's Status message and whether a retry may help.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from typing import TypeVar
from urllib.parse import quote

import orjson
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.api import apiextensions_v1_api, apis_api, core_v1_api, version_api  # noqa: F401
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError
from kubernetes.stream import stream
from websocket import WebSocketBadStatusException

from clusters import exec_plugins, kubeconfig_policy, kubeconfigs
from planner import k8snames
from railstudio.gcpause import collector_paused

FIELD_MANAGER = "railstudio"
REQUEST_TIMEOUT = (5, 30)  # connect, read (seconds)
TRANSIENT_STATUS = {429, 500, 502, 503, 504}
T = TypeVar("T")
# Kinds Rail Studio reads and writes, so routine calls skip API discovery (a dozen round trips to
# a far-away cluster). Anything else is looked up through discovery.
KNOWN_RESOURCES = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "PodTemplate"): ("podtemplates", True),
    ("v1", "Pod"): ("pods", True),
    ("v1", "Event"): ("events", True),
    ("v1", "Node"): ("nodes", False),
    ("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition"): ("network-attachment-definitions", True),
    ("whereabouts.cni.cncf.io/v1alpha1", "IPPool"): ("ippools", True),
    ("sriovnetwork.openshift.io/v1", "SriovNetwork"): ("sriovnetworks", True),
    ("sriovnetwork.openshift.io/v1", "SriovIBNetwork"): ("sriovibnetworks", True),
    ("sriovnetwork.openshift.io/v1", "SriovNetworkNodePolicy"): ("sriovnetworknodepolicies", True),
    ("sriovnetwork.openshift.io/v1", "SriovNetworkNodeState"): ("sriovnetworknodestates", True),
}


class KubeError(Exception):
    def __init__(
        self,
        message: str,
        status: int | None = None,
        reason: str = "",
        retry_after: float | None = None,
        *,
        permanent: bool = False,
        kubernetes_status: bool = True,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent  # no retry can help (credentials refused, bad kubeconfig)
        self.kubernetes_status = kubernetes_status  # the answer was a Kubernetes Status

    @property
    def transient(self) -> bool:
        """Connection failures, timeouts, 429 and 5xx may pass; 4xx are final."""
        if self.permanent:
            return False
        return self.status is None or self.status in TRANSIENT_STATUS

    def __str__(self):
        if not self.status or not self.kubernetes_status:
            return self.message
        return (
            f"{' '.join(str(part) for part in (self.status, self.reason) if part)}: {self.message}"
        )


def _from_api_exception(error) -> KubeError:
    if getattr(error, "status", None) == 0:  # a websocket call (exec) failed before streaming
        return _from_websocket_failure(error)
    status = getattr(error, "status", None)
    body = getattr(error, "body", None) or getattr(error, "summary", lambda: "")()
    headers = getattr(error, "headers", None) or {}
    message, reason = str(body or error), getattr(error, "reason", "") or ""
    try:
        parsed = json.loads(body) if isinstance(body, (str, bytes)) else None
    except ValueError:
        parsed = None
    is_status = isinstance(parsed, dict) and parsed.get("kind") == "Status"
    if is_status:
        message, reason = parsed.get("message", message), parsed.get("reason", reason)
    elif status:
        # Not a Kubernetes Status: never echo the body (an internal page's HTML, say).
        message = f"answered HTTP {status} without a Kubernetes Status"
    retry_after = None
    if headers and headers.get("Retry-After"):
        try:
            retry_after = float(headers["Retry-After"])
        except ValueError:
            retry_after = None
    return KubeError(
        message, status=status, reason=reason, retry_after=retry_after, kubernetes_status=is_status
    )


def _handshake(error) -> tuple[int, str, str] | None:
    """(HTTP status, status text, body) of a refused websocket handshake. The client wraps
    websocket's WebSocketBadStatusException into ApiException(status=0, reason=its text), so the
    answer is on the exception it replaced, or else in that text:
    "Handshake status 400 Bad Request -+-+- {headers} -+-+- {body}"."""
    cause = error.__context__
    if isinstance(cause, WebSocketBadStatusException):
        body = cause.resp_body or b""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        return cause.status_code, cause.status_message or "", text
    match = _HANDSHAKE.match(str(getattr(error, "reason", "") or ""))
    if match is None:
        return None
    return int(match["status"]), match["text"].strip(), match["body"]


_HANDSHAKE = re.compile(
    r"Handshake status (?P<status>\d{3}) (?P<text>[^-]*)-\+-\+- .*? -\+-\+- (?P<body>.*)\Z",
    re.DOTALL,
)


def _from_websocket_failure(error) -> KubeError:
    """What the API server said when it refused an exec, as it said it (the Status message,
    e.g. "pod x does not have a host assigned"); a failure to connect at all is transient."""
    handshake = _handshake(error)
    if handshake is None:
        return KubeError(f"Cannot reach the API server: {getattr(error, 'reason', '') or error}")
    status, text, body = handshake
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("kind") == "Status":
        return KubeError(
            parsed.get("message") or text, status=status, reason=parsed.get("reason") or text
        )
    return KubeError(
        f"the API server refused the websocket with HTTP {status} {text}".rstrip(),
        status=status,
        reason=text,
    )


def translate(error: Exception) -> KubeError:
    if isinstance(error, KubeError):
        return error
    if isinstance(error, (k8s.ApiException, DynamicApiError)):
        return _from_api_exception(error)
    if isinstance(error, ResourceNotFoundError):
        return KubeError(str(error), status=404, reason="NotFound")
    if isinstance(error, (urllib3.exceptions.HTTPError, OSError, TimeoutError)):
        return KubeError(f"Cannot reach the API server: {error}")
    raise error


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int = 6,
    base_delay: float = 0.5,
    max_delay: float = 8.0,
    on_retry=None,
) -> T:
    """Run `call`; retry transient failures with exponential backoff and jitter, honouring
    Retry-After. Permanent failures and the last transient one raise KubeError."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as raw:
            error = translate(raw)
            if not error.transient or attempt == attempts:
                raise error from None
            delay = error.retry_after or min(max_delay, base_delay * 2 ** (attempt - 1))
            delay *= 1 + random.random() * 0.2
            if on_retry:
                on_retry(attempt, error, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def concurrently(
    calls: list[Callable[[], T]], limit: int
) -> Iterator[tuple[int, T | None, KubeError | None]]:
    """Run independent calls at once, at most `limit` in flight, and yield (index, result,
    error) as each finishes. A far-away cluster costs a round trip per call; independent calls
    need not wait for each other. With limit 1 the calls run one after another, in order."""
    if limit <= 1 or len(calls) <= 1:
        for index, call in enumerate(calls):
            try:
                yield index, call(), None
            except KubeError as error:
                yield index, None, error
        return
    with ThreadPoolExecutor(max_workers=min(limit, len(calls))) as pool:
        futures = {pool.submit(call): index for index, call in enumerate(calls)}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result(), None
            except KubeError as error:
                yield futures[future], None, error


@dataclass(frozen=True)
class Target:
    """What to connect to: a kubeconfig (text) and context, or the in-cluster service account.
    `policy` is what the kubeconfig may hold (default: the settings'); it is checked at every
    use, so a stored kubeconfig that breaks it is never run."""

    kubeconfig: str = ""
    context: str = ""
    in_cluster: bool = False
    policy: kubeconfig_policy.Policy | None = None


IN_CLUSTER_MISSING = (
    "In-cluster credentials do not exist here: Rail Studio is not running in a Kubernetes pod "
    "(no KUBERNETES_SERVICE_HOST or service account token)"
)


def credentials_refused(message: str) -> KubeError:
    return KubeError(message, permanent=True)


def api_client(target: Target) -> k8s.ApiClient:
    if target.in_cluster:
        configuration = k8s.Configuration()
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except ConfigException as error:
            raise credentials_refused(f"{IN_CLUSTER_MISSING} ({error})") from None
        api = k8s.ApiClient(configuration)
    else:
        api = _kubeconfig_client(target)
    api.configuration.retries = 0  # with_retries decides; urllib3 should not retry behind it
    return api


def _kubeconfig_client(target: Target) -> k8s.ApiClient:
    policy = target.policy or kubeconfig_policy.current()
    try:
        config = kubeconfigs.load(target.kubeconfig)
        kubeconfig_policy.enforce(config, policy)
        context = target.context or kubeconfigs.current_context(config)
        kubeconfigs.server_of(config, context)  # names a missing context or server
        plugin = _ExecCredentials.of(target, config, context, policy)
        if plugin is not None:
            config = plugin.resolved(config, context)
        api = k8s_config.new_client_from_config_dict(
            config, context=context or None, persist_config=False
        )
    except kubeconfig_policy.KubeconfigRefused as error:
        raise credentials_refused(
            f"The stored kubeconfig breaks Rail Studio's credential rules, so it was not used: "
            f"{error}. Register the cluster again with inline credentials."
        ) from None
    except kubeconfigs.KubeconfigError as error:
        raise credentials_refused(f"The stored kubeconfig cannot be used: {error}") from None
    except exec_plugins.ExecPluginError as error:
        raise credentials_refused(f"No credentials: {error}") from None
    except (ConfigException, ValueError, TypeError, KeyError, OSError) as error:
        raise credentials_refused(f"The stored kubeconfig cannot be used: {error}") from None
    # The loader's own hook re-reads the kubeconfig before every request (1-2 ms of CPU each);
    # only an exec plugin's credentials expire, and its hook fetches them again when they do.
    api.configuration.refresh_api_key_hook = plugin.refresh_hook() if plugin else None
    return api


class _ExecCredentials:
    """A context's exec plugin: runs it (exec_plugins.run) and keeps its credential until it
    expires, across the clients of this process."""

    _cache: dict[str, exec_plugins.Credential] = {}
    _lock = threading.Lock()
    CACHE_SIZE = 64

    def __init__(self, key: str, plugin: dict, cluster: dict | None, policy):
        self.key, self.plugin, self.cluster, self.policy = key, plugin, cluster, policy
        self.credential = self._cached() or self._fetch()

    @classmethod
    def of(cls, target: Target, config: dict, context: str, policy) -> _ExecCredentials | None:
        user = kubeconfigs.user_of(config, context)
        if "exec" not in user:
            return None
        key = hashlib.sha256(f"{context}\0{target.kubeconfig}".encode()).hexdigest()
        return cls(key, user["exec"], kubeconfigs.cluster_of(config, context), policy)

    def _cached(self) -> exec_plugins.Credential | None:
        with self._lock:
            found = self._cache.get(self.key)
        return found if found is not None and not found.expired() else None

    def _fetch(self) -> exec_plugins.Credential:
        credential = exec_plugins.run(self.plugin, self.cluster, self.policy)
        if credential.expires_at is not None and not credential.expired():
            with self._lock:
                while len(self._cache) >= self.CACHE_SIZE:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[self.key] = credential
        return credential

    def resolved(self, config: dict, context: str) -> dict:
        """The kubeconfig with the context's exec block replaced by the plugin's answer."""
        config = copy.deepcopy(config)
        user = kubeconfigs.user_of(config, context)
        user.pop("exec")
        if self.credential.token:
            user["token"] = self.credential.token
        else:
            user["client-certificate-data"] = _b64(self.credential.client_certificate)
            user["client-key-data"] = _b64(self.credential.client_key)
        return config

    def refresh_hook(self):
        if not self.credential.token or self.credential.expires_at is None:
            return None  # a certificate cannot be swapped into an open pool; it lasts the task

        def refresh(configuration) -> None:
            if self.credential.expired():
                try:
                    self.credential = self._fetch()
                except exec_plugins.ExecPluginError as error:
                    raise credentials_refused(f"No credentials: {error}") from None
                configuration.api_key["BearerToken"] = f"Bearer {self.credential.token}"

        return refresh


def _b64(text: str | None) -> str:
    return base64.b64encode((text or "").encode()).decode()


def _segment(name: str) -> str:
    """A name as one segment of an API path: refused if no API server could hold it ('..',
    '/'), else percent-quoted. Names are validated at the edge; this is the last line."""
    problem = k8snames.path_segment_error(name)
    if problem:
        raise KubeError(problem, status=400, reason="Invalid")
    return quote(name, safe="")


def _parse(body: bytes | None):
    """JSON, with orjson (a list of thousands of pods is tens of megabytes) and the cyclic
    garbage collector paused for big bodies: that is millions of new objects, and the
    collections they trigger cost as much as the parse."""
    if not body:
        return None
    if len(body) < 1_000_000:
        return orjson.loads(body)
    with collector_paused():
        return orjson.loads(body)


class Kube:
    """Operations Rail Studio needs on one cluster. Create one per task; close() when done.
    Object calls may run from several threads at once (urllib3's pool is thread-safe);
    `max_parallel` is the pool's size, beyond which connections would be thrown away."""

    def __init__(
        self, target: Target, *, request_timeout: tuple = REQUEST_TIMEOUT, attempts: int = 6
    ):
        """`request_timeout` and `attempts` bound the object calls; a page that waits for an
        answer gives short ones (clusters.facts.read_live_facts)."""
        self.target = target
        self.request_timeout = request_timeout
        self.attempts = attempts
        self.api = api_client(target)
        self._dynamic: DynamicClient | None = None
        self.max_parallel = self.api.configuration.connection_pool_maxsize or 1

    def close(self):
        self.api.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            self._dynamic = with_retries(lambda: DynamicClient(self.api))
        return self._dynamic

    def _resource(self, api_version: str, kind: str):
        return self.dynamic.resources.get(api_version=api_version, kind=kind)

    # --- cluster facts -------------------------------------------------------------------------

    def version(self) -> str:
        """The server's version; what answers without one is not a Kubernetes API server."""
        try:
            info = self._rest("GET", "/version")
        except KubeError as error:
            if error.status and not error.kubernetes_status:
                raise KubeError(
                    f"answered HTTP {error.status}; not a Kubernetes API server",
                    status=error.status,
                    permanent=True,
                    kubernetes_status=False,
                ) from None
            raise
        if not isinstance(info, dict) or not isinstance(info.get("gitVersion"), str):
            raise KubeError(
                "answered /version without a gitVersion; not a Kubernetes API server",
                permanent=True,
                kubernetes_status=False,
            )
        return info["gitVersion"]

    def nodes(self) -> list[dict]:
        return self.list("v1", "Node")

    def crd_names(self) -> set[str]:
        crds = with_retries(
            lambda: k8s.ApiextensionsV1Api(self.api).list_custom_resource_definition(
                _request_timeout=REQUEST_TIMEOUT
            )
        )
        return {crd.metadata.name for crd in crds.items}

    def api_groups(self) -> set[str]:
        groups = with_retries(
            lambda: k8s.ApisApi(self.api).get_api_versions(_request_timeout=REQUEST_TIMEOUT)
        )
        return {group.name for group in groups.groups}

    # --- objects -------------------------------------------------------------------------------

    # --- objects (plain REST through the official ApiClient; discovery only for unknown kinds)

    def _collection(self, api_version: str, kind: str, namespace: str | None) -> str:
        known = KNOWN_RESOURCES.get((api_version, kind))
        if known:
            plural, namespaced = known
        else:
            resource = self._resource(api_version, kind)
            plural, namespaced = resource.name, resource.namespaced
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if namespaced and namespace:
            return f"{prefix}/namespaces/{_segment(namespace)}/{plural}"
        return f"{prefix}/{plural}"

    def _rest(
        self,
        method: str,
        path: str,
        *,
        query=None,
        body=None,
        content_type="application/json",
        on_retry=None,
    ):
        def call():
            request = self.api.param_serialize(
                method,
                path,
                query_params=list(query or []),
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self.api.call_api(*request, _request_timeout=self.request_timeout)
            response.read()
            if not 200 <= response.status <= 299:
                self.api.response_deserialize(response, {})  # raises ApiException with the Status
            try:
                return _parse(response.data)
            except ValueError:
                raise KubeError(
                    f"answered HTTP {response.status} with a body that is not JSON; not a "
                    "Kubernetes API server",
                    permanent=True,
                    kubernetes_status=False,
                ) from None

        return with_retries(call, attempts=self.attempts, on_retry=on_retry)

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict | None:
        try:
            return self._rest(
                "GET", f"{self._collection(api_version, kind, namespace)}/{_segment(name)}"
            )
        except KubeError as error:
            if error.status == 404:
                return None
            raise

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict]:
        query = [("labelSelector", label_selector)] if label_selector else []
        if field_selector:
            query.append(("fieldSelector", field_selector))
        result = self._rest("GET", self._collection(api_version, kind, namespace), query=query)
        items = []
        for obj in result.get("items") or []:
            # List items of built-in kinds come without apiVersion and kind.
            obj.setdefault("apiVersion", api_version)
            obj.setdefault("kind", kind)
            items.append(obj)
        return items

    def apply(self, obj: dict, *, dry_run: bool = False, force: bool = True, on_retry=None) -> dict:
        """Server-side apply as field manager `railstudio`."""
        metadata = obj.get("metadata") or {}
        path = f"{self._collection(obj['apiVersion'], obj['kind'], metadata.get('namespace'))}/{_segment(metadata['name'])}"
        query = [("fieldManager", FIELD_MANAGER), ("force", "true" if force else "false")]
        if dry_run:
            query.append(("dryRun", "All"))
        return self._rest(
            "PATCH",
            path,
            query=query,
            body=obj,
            content_type="application/apply-patch+yaml",
            on_retry=on_retry,
        )

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        dry_run: bool = False,
    ) -> bool:
        query = [("dryRun", "All")] if dry_run else []
        try:
            self._rest(
                "DELETE",
                f"{self._collection(api_version, kind, namespace)}/{_segment(name)}",
                query=query,
            )
            return True
        except KubeError as error:
            if error.status == 404:
                return False
            raise

    def ensure_namespace(self, name: str, *, dry_run: bool = False) -> dict:
        return self.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, dry_run=dry_run
        )

    # --- pods ----------------------------------------------------------------------------------

    def pods(self, namespace: str | None = None, label_selector: str | None = None) -> list[dict]:
        return self.list("v1", "Pod", namespace, label_selector)

    def events(self, namespace: str | None = None, field_selector: str | None = None) -> list[dict]:
        return self.list("v1", "Event", namespace, field_selector=field_selector)

    def create_pod(self, pod: dict) -> dict:
        namespace = pod["metadata"].get("namespace", "default")
        return self._rest("POST", self._collection("v1", "Pod", namespace), body=pod)

    def exec(
        self,
        namespace: str,
        pod: str,
        command: list[str],
        container: str | None = None,
        timeout: float = 20,
    ) -> tuple[str, str, int]:
        """Run a command in a pod over the websocket exec API; returns stdout, stderr, exit code.

        `stream()` swaps the client's call_api while it runs, so exec gets its own ApiClient."""
        _segment(namespace), _segment(pod)  # the client quotes them; '..' it cannot
        exec_api = api_client(self.target)
        try:
            kwargs = {"container": container} if container else {}
            response = stream(
                k8s.CoreV1Api(exec_api).connect_get_namespaced_pod_exec,
                pod,
                namespace,
                command=command,
                stdout=True,
                stderr=True,
                stdin=False,
                tty=False,
                _preload_content=False,
                **kwargs,
            )
            response.run_forever(timeout=timeout)
            stdout = response.read_stdout() if response.peek_stdout() else ""
            stderr = response.read_stderr() if response.peek_stderr() else ""
            code = response.returncode
            response.close()
            return stdout, stderr, 0 if code is None else code
        except Exception as raw:
            raise translate(raw) from None
        finally:
            exec_api.close()

    def exec_many(self, jobs: list[ExecJob], limit: int):
        """Run exec jobs at most `limit` at a time; yields (index, (stdout, stderr, exit code)
        or None, KubeError or None) as each finishes. Each worker thread keeps one exec client
        (stream() swaps its call_api while it runs), so a thousand execs do not parse the
        kubeconfig and build a TLS context a thousand times."""
        local = threading.local()
        clients: list[k8s.ApiClient] = []

        def run(job: ExecJob):
            api = getattr(local, "api", None)
            if api is None:
                api = local.api = api_client(self.target)
                clients.append(api)
            return _stream_exec(api, job)

        try:
            yield from concurrently([partial(run, job) for job in jobs], limit)
        finally:
            for api in clients:
                api.close()


@dataclass(frozen=True)
class ExecJob:
    namespace: str
    pod: str
    command: list[str]
    container: str | None = None
    timeout: float = 20


def _stream_exec(api: k8s.ApiClient, job: ExecJob) -> tuple[str, str, int]:
    try:
        kwargs = {"container": job.container} if job.container else {}
        response = stream(
            k8s.CoreV1Api(api).connect_get_namespaced_pod_exec,
            job.pod,
            job.namespace,
            command=job.command,
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
            _preload_content=False,
            **kwargs,
        )
        response.run_forever(timeout=job.timeout)
        if response.is_open():
            response.close()
            raise KubeError(f"no answer within {job.timeout:g} s", status=None, reason="Timeout")
        stdout = response.read_stdout() if response.peek_stdout() else ""
        stderr = response.read_stderr() if response.peek_stderr() else ""
        code = response.returncode
        response.close()
        return stdout, stderr, 0 if code is None else code
    except KubeError:
        raise
    except Exception as raw:
        raise translate(raw) from None
