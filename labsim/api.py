"""REST handlers for resources: get, list, watch, create, update, patch, delete, subresources."""

import asyncio
import base64
import json
import time
from dataclasses import dataclass

from aiohttp import web

from labsim import protobuf
from labsim.exec_ws import pod_view, serve_exec, truthy
from labsim.managed_fields import ManagedFields
from labsim.meta import dumps
from labsim.objects import APPLY
from labsim.patching import parse_body
from labsim.resources import ResourceType
from labsim.selectors import field_matcher, label_matcher
from labsim.status import (
    ApiError,
    bad_request,
    method_not_allowed,
    resource_not_found,
    unsupported_media_type,
)
from labsim.store import Entry
from labsim.tables import table, wants_table

JSON = "application/json"
DEFAULT_WATCH_SECONDS = 1800
STREAM_ITEMS = 256


@dataclass
class Target:
    resource: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


class ResourceApi:
    def __init__(self, lab):
        self.lab = lab
        self.registry = lab.registry

    # Routing -----------------------------------------------------------------------------

    def resolve(self, group: str, version: str, tail: str) -> Target:
        parts = [p for p in tail.split("/") if p]
        namespace = None
        if len(parts) >= 3 and parts[0] == "namespaces" and parts[2] not in ("status", "finalize"):
            namespace, plural, rest = parts[1], parts[2], parts[3:]
            resource = self.registry.lookup(group, version, plural)
            if resource is None or not resource.namespaced:
                raise resource_not_found()
        else:
            if not parts:
                raise resource_not_found()
            plural, rest = parts[0], parts[1:]
            resource = self.registry.lookup(group, version, plural)
            if resource is None or (resource.namespaced and rest):
                raise resource_not_found()
        if len(rest) > 2:
            raise resource_not_found()
        name = rest[0] if rest else None
        subresource = rest[1] if len(rest) > 1 else None
        if subresource and subresource not in resource.subresources:
            raise resource_not_found()
        return Target(resource, namespace, name, subresource)

    async def core(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["version"] != "v1":
            return _page_not_found()
        return await self.dispatch(request, "", "v1", request.match_info["tail"])

    async def grouped(self, request: web.Request) -> web.StreamResponse:
        group, version = request.match_info["group"], request.match_info["version"]
        if not self.registry.serves(group, version):
            return _page_not_found()
        return await self.dispatch(request, group, version, request.match_info["tail"])

    async def dispatch(self, request, group, version, tail) -> web.StreamResponse:
        target = self.resolve(group, version, tail)
        method = request.method
        if target.subresource == "exec":
            if method not in ("GET", "POST"):
                raise method_not_allowed()
            return await serve_exec(request, self.lab, self._entry(target).obj)
        if target.subresource == "log":
            if method != "GET":
                raise method_not_allowed()
            return self._log(request, target)
        if target.name is None:
            if method == "GET":
                if truthy(request.query.get("watch")):
                    return await self._watch(request, target)
                return await self._list(request, target)
            if method == "POST":
                return await self._create(request, target)
            if method == "DELETE":
                return await self._delete_collection(request, target)
            raise method_not_allowed()
        handlers = {
            "GET": self._get,
            "PUT": self._update,
            "PATCH": self._patch,
            "DELETE": self._delete,
        }
        if method not in handlers:
            raise method_not_allowed()
        return await handlers[method](request, target)

    # Helpers -----------------------------------------------------------------------------

    def _namespace(self, target: Target) -> str:
        return target.namespace or ""

    def _entry(self, target: Target) -> Entry:
        return self.lab.objects.get(target.resource, self._namespace(target), target.name)

    def _require(self, target: Target, verb: str) -> None:
        if not target.resource.allows(verb):
            raise method_not_allowed()

    def _status_verbs(self, target: Target, verb: str) -> None:
        if target.subresource == "status" and verb != "get" and not target.resource.writable:
            raise method_not_allowed()

    async def _body(self, request: web.Request, content_type: str | None = None):
        raw = await request.read()
        if not raw:
            raise bad_request("the body of the request was empty")
        if "protobuf" in (content_type or request.content_type):
            try:
                return protobuf.decode(raw)
            except (protobuf.ProtobufError, UnicodeDecodeError) as error:
                raise unsupported_media_type(
                    ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
                ) from error
        try:
            return parse_body(raw, content_type or request.content_type)
        except ValueError as error:
            raise bad_request(f"the body of the request could not be decoded: {error}") from error

    def _manager(self, request: web.Request) -> str:
        manager = request.query.get("fieldManager")
        if manager:
            return manager
        agent = request.headers.get("User-Agent", "unknown")
        return agent.split("/", 1)[0].split(" ", 1)[0] or "unknown"

    def _dry_run(self, request: web.Request, body: dict | None = None) -> bool:
        values = request.query.getall("dryRun", [])
        if isinstance(body, dict) and isinstance(body.get("dryRun"), list):
            values = values + body["dryRun"]
        if any(value != "All" for value in values):
            options = _OPTIONS_KIND.get(request.method, "CreateOptions")
            listed = ", ".join(f'"{value}"' for value in values)
            message = f'Unsupported value: []string{{{listed}}}: supported values: "All"'
            raise ApiError(
                422,
                "Invalid",
                f'{options}.meta.k8s.io "" is invalid: dryRun: {message}',
                {
                    "group": "meta.k8s.io",
                    "kind": options,
                    "causes": [
                        {"reason": "FieldValueNotSupported", "message": message, "field": "dryRun"}
                    ],
                },
            )
        return bool(values)

    def _object_response(self, request: web.Request, entry: Entry, status: int = 200):
        if wants_table(request.headers.get("Accept", "")):
            body = table(
                entry_resource(self.registry, entry),
                [entry.obj],
                entry.obj["metadata"].get("resourceVersion", ""),
                request.query.get("includeObject", "Metadata"),
            )
            return web.Response(status=status, body=dumps(body), content_type=JSON)
        return web.Response(status=status, body=entry.body, content_type=JSON)

    # Verbs -------------------------------------------------------------------------------

    async def _get(self, request, target: Target) -> web.Response:
        self._require(target, "get")
        return self._object_response(request, self._entry(target))

    def _selected(self, request, target: Target) -> list[Entry]:
        labels = label_matcher(request.query.get("labelSelector"))
        fields = field_matcher(request.query.get("fieldSelector"), target.resource)
        entries = self.lab.store.items(target.resource, target.namespace)
        if labels:
            entries = [e for e in entries if labels(e.obj)]
        if fields:
            entries = [e for e in entries if fields(e.obj)]
        return entries

    async def _list(self, request, target: Target) -> web.StreamResponse:
        self._require(target, "list")
        resource = target.resource
        list_version = self.lab.store.rv
        entries = self._selected(request, target)
        continue_token = request.query.get("continue")
        if continue_token:
            list_version, start = _decode_continue(continue_token)
            entries = [e for e in entries if (e.namespace, e.name) > start]
        limit = _int(request.query.get("limit"), "limit")
        next_token = ""
        remaining = None
        if limit and limit > 0 and len(entries) > limit:
            last = entries[limit - 1]
            remaining = len(entries) - limit
            entries = entries[:limit]
            next_token = _encode_continue(list_version, (last.namespace, last.name))
        if wants_table(request.headers.get("Accept", "")):
            body = table(
                resource,
                [e.obj for e in entries],
                str(list_version),
                request.query.get("includeObject", "Metadata"),
                next_token,
            )
            return web.Response(body=dumps(body), content_type=JSON)
        metadata = {"resourceVersion": str(list_version)}
        if not resource.builtin:
            metadata["continue"] = next_token  # custom resource lists always carry it
        if next_token:
            metadata["continue"] = next_token
            selectors = request.query.get("labelSelector") or request.query.get("fieldSelector")
            if remaining and not selectors:
                metadata["remainingItemCount"] = remaining
        head = dumps(
            {"kind": resource.list_kind, "apiVersion": resource.api_version, "metadata": metadata}
        )[:-1]
        if len(entries) <= STREAM_ITEMS:
            body = head + b',"items":[' + b",".join(e.list_item(resource) for e in entries) + b"]}"
            return web.Response(body=body, content_type=JSON)
        # Large lists are streamed in chunks instead of being built in memory at once.
        response = web.StreamResponse(headers={"Content-Type": JSON})
        await response.prepare(request)
        await response.write(head + b',"items":[')
        for start in range(0, len(entries), STREAM_ITEMS):
            chunk = b",".join(e.list_item(resource) for e in entries[start : start + STREAM_ITEMS])
            await response.write((b"," if start else b"") + chunk)
        await response.write(b"]}")
        await response.write_eof()
        return response

    async def _watch(self, request, target: Target) -> web.StreamResponse:
        self._require(target, "watch")
        matchers = [
            m
            for m in (
                label_matcher(request.query.get("labelSelector")),
                field_matcher(request.query.get("fieldSelector"), target.resource),
            )
            if m
        ]

        def matches(obj: dict) -> bool:
            return all(m(obj) for m in matchers)

        version = request.query.get("resourceVersion")
        since = None if version in (None, "", "0") else _int(version, "resourceVersion")
        timeout = _int(request.query.get("timeoutSeconds"), "timeoutSeconds")
        deadline = time.monotonic() + (timeout if timeout else DEFAULT_WATCH_SECONDS)
        as_table = wants_table(request.headers.get("Accept", ""))
        response = web.StreamResponse(status=200, headers={"Content-Type": JSON})
        try:
            watcher = self.lab.store.open_watch(
                target.resource, target.namespace, matches if matchers else None, since
            )
        except ApiError as error:
            await response.prepare(request)
            await response.write(dumps({"type": "ERROR", "object": error.status()}) + b"\n")
            await response.write_eof()
            return response
        try:
            await response.prepare(request)
            while not watcher.closed or not watcher.queue.empty():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), remaining)
                except TimeoutError:
                    break
                if event is None:
                    break
                batch = [event]
                while not watcher.queue.empty() and len(batch) < 500:
                    queued = watcher.queue.get_nowait()
                    if queued is None:
                        watcher.closed = True
                        break
                    batch.append(queued)
                if as_table:
                    chunk = b"".join(_table_event(target.resource, e) for e in batch)
                else:
                    chunk = b"".join(e.line() for e in batch)
                await response.write(chunk)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.lab.store.close_watch(watcher)
        return response

    async def _create(self, request, target: Target) -> web.Response:
        self._require(target, "create")
        if target.resource.namespaced and target.namespace is None:
            raise method_not_allowed()
        body = await self._body(request)
        if not isinstance(body, dict):
            raise bad_request("the body of the request is not a JSON object")
        if target.resource.virtual:
            review = access_review(target.resource, body, self._manager(request))
            return web.Response(status=201, body=dumps(review), content_type=JSON)
        entry = self.lab.objects.create(
            target.resource,
            self._namespace(target),
            body,
            self._manager(request),
            self._dry_run(request),
        )
        return self._object_response(request, entry, 201)

    async def _update(self, request, target: Target) -> web.Response:
        self._status_verbs(target, "update")
        self._require(target, "update")
        body = await self._body(request)
        if not isinstance(body, dict):
            raise bad_request("the body of the request is not a JSON object")
        entry = self.lab.objects.replace(
            target.resource,
            self._namespace(target),
            target.name,
            body,
            self._manager(request),
            target.subresource or "",
            self._dry_run(request),
        )
        return self._object_response(request, entry)

    async def _patch(self, request, target: Target) -> web.Response:
        self._status_verbs(target, "patch")
        self._require(target, "patch")
        content_type = request.content_type
        patch = await self._body(request, content_type)
        manager = request.query.get("fieldManager")
        if content_type != APPLY:
            manager = self._manager(request)
        force = truthy(request.query.get("force"))
        if request.query.get("force") and content_type != APPLY:
            raise bad_request("force is only allowed for apply patches")
        entry, created = self.lab.objects.patch(
            target.resource,
            self._namespace(target),
            target.name,
            content_type,
            patch,
            manager,
            target.subresource or "",
            self._dry_run(request),
            force,
        )
        return self._object_response(request, entry, 201 if created else 200)

    async def _delete(self, request, target: Target) -> web.Response:
        self._require(target, "delete")
        options = await _delete_options(request)
        grace = options.get("gracePeriodSeconds", request.query.get("gracePeriodSeconds"))
        grace = _int(str(grace), "gracePeriodSeconds") if grace is not None else None
        result = self.lab.objects.delete(
            target.resource,
            self._namespace(target),
            target.name,
            grace,
            options.get("preconditions"),
            self._dry_run(request, options),
        )
        return web.Response(body=dumps(result), content_type=JSON)

    async def _delete_collection(self, request, target: Target) -> web.Response:
        self._require(target, "deletecollection")
        options = await _delete_options(request)
        dry_run = self._dry_run(request, options)
        deleted = []
        for entry in self._selected(request, target):
            result = self.lab.objects.delete(
                target.resource, entry.namespace, entry.name, None, None, dry_run
            )
            deleted.append(entry.obj if result.get("kind") == "Status" else result)
        resource = target.resource
        body = {
            "kind": resource.list_kind,
            "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": str(self.lab.store.rv)},
            "items": deleted,
        }
        return web.Response(body=dumps(body), content_type=JSON)

    def _log(self, request, target: Target) -> web.Response:
        pod = self._entry(target).obj
        view = pod_view(self.lab, pod, request.query.get("container"), for_exec=False)
        lines = []
        if pod["metadata"].get("namespace") == "kube-system":
            lines = [
                f"labsim: {view.container} started on {pod['spec'].get('nodeName')}",
                f"labsim: {view.container} is running (simulated)",
            ]
        tail = _int(request.query.get("tailLines"), "tailLines")
        if tail is not None:
            lines = lines[-tail:] if tail else []
        text = "".join(f"{line}\n" for line in lines)
        return web.Response(text=text, content_type="text/plain")


_OPTIONS_KIND = {
    "POST": "CreateOptions",
    "PUT": "UpdateOptions",
    "PATCH": "PatchOptions",
    "DELETE": "DeleteOptions",
}


def access_review(resource: ResourceType, body: dict, manager: str) -> dict:
    """A SelfSubjectAccessReview: the lab's one token may do everything, as a member of
    system:masters may on a real cluster (no reason given)."""
    if body.get("kind") not in (None, resource.kind) or body.get("apiVersion") not in (
        None,
        resource.api_version,
    ):
        raise bad_request(
            f"the API version in the data ({body.get('apiVersion')}) does not match the "
            f"expected API version ({resource.api_version})"
        )
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    fields = ManagedFields([])
    fields.record_update(None, {"spec": spec}, manager, resource.api_version, zero={"spec": {}})
    metadata = {"creationTimestamp": None}
    managed = fields.render()
    if managed:
        metadata["managedFields"] = managed
    return {
        "kind": resource.kind,
        "apiVersion": resource.api_version,
        "metadata": metadata,
        "spec": spec,
        "status": {"allowed": True},
    }


def entry_resource(registry, entry: Entry) -> ResourceType:
    return registry.by_kind(entry.obj["apiVersion"], entry.obj["kind"])


def _table_event(resource, event) -> bytes:
    body = table(resource, [event.entry.obj], str(event.rv), "Metadata")
    return dumps({"type": event.type, "object": body}) + b"\n"


async def _delete_options(request: web.Request) -> dict:
    raw = await request.read()
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except ValueError as error:
        raise bad_request(f"the body of the request could not be decoded: {error}") from error
    return options if isinstance(options, dict) else {}


def _int(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as error:
        raise bad_request(f"invalid {name}: {value!r} is not an integer") from error


def _encode_continue(version: int, start: tuple[str, str]) -> str:
    token = {"v": "meta.k8s.io/v1", "rv": version, "start": f"{start[0]}/{start[1]}\u0000"}
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        namespace, _, name = data["start"].rstrip("\u0000").partition("/")
        return int(data["rv"]), (namespace, name)
    except (ValueError, KeyError, TypeError) as error:
        raise bad_request(f"continue key is not valid: {error}") from error


def _page_not_found() -> web.Response:
    return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
