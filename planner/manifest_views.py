"""The Manifests tab of a plan (rendered objects, findings, IP preview) and the Lint YAML page.

Both only read, so the viewer role is enough (lint posts for the size of its input, writes
nothing). Rendering and its input rules are shared with the API (`planner.api.manifests`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import wraps
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods

from planner import findings, highlight, manifests, preflight, yamlio
from planner.api.manifests import KINDS, BundleError, pod_options, render_kind, safe_preflight
from planner.models import Plan
from railstudio import numbers, uploads
from railstudio.roles import VIEWER, has_role

PREVIEW_DEFAULT = 4
PREVIEW_MAX = 64
INVALID = 422
EXCERPT_LINES = 2
MODE_LABELS = {"nad": "NADs", "sriov-operator": "SR-IOV operator"}
LAYOUT_LABELS = {"per-node": "Per node", "per-numa": "Per NUMA node"}


def viewer_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not has_role(request.user, VIEWER):
            raise PermissionDenied("This needs the viewer role.")
        return view(request, *args, **kwargs)

    return wrapper


def _partial_or_page(request, page: str, partial: str, context: dict, status: int = 200):
    htmx = getattr(request, "htmx", None)
    wants_partial = bool(htmx) and not htmx.history_restore_request
    response = render(request, partial if wants_partial else page, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


# ---------------------------------------------------------------------------------------------
# Manifests tab


@dataclass
class Controls:
    """The tab's controls as read from the query string (the API's parameters, spelled flat)."""

    mode: str = "nad"
    kind: str = "bundle"
    layout: str = "per-node"
    rails: list[str] = field(default_factory=list)
    gpus: str = ""
    nccl_env: bool = False
    preview: int = PREVIEW_DEFAULT

    @classmethod
    def from_query(cls, query) -> Controls:
        try:
            preview = min(max(int(query.get("preview", PREVIEW_DEFAULT)), 1), PREVIEW_MAX)
        except ValueError:
            preview = PREVIEW_DEFAULT
        return cls(
            mode=query.get("mode") or "nad",
            kind=query.get("kind") or "bundle",
            layout=query.get("layout") or "per-node",
            rails=[rail for rail in query.getlist("rails") if rail],
            gpus=query.get("gpus", "").strip(),
            nccl_env=query.get("nccl_env", "").lower() in ("1", "true", "on", "yes"),
            preview=preview,
        )

    def pod_strings(self) -> dict[str, str]:
        return {
            "layout": self.layout,
            "rails": ",".join(self.rails),
            "gpus": self.gpus,
            "nccl_env": "true" if self.nccl_env else "",
        }

    def query(self, **extra) -> str:
        pairs = [("mode", self.mode), ("kind", self.kind), ("layout", self.layout)]
        pairs += [("rails", rail) for rail in self.rails]
        pairs += [("gpus", self.gpus), ("nccl_env", "true" if self.nccl_env else "")]
        pairs += [("preview", str(self.preview)), *extra.items()]
        return urlencode([(key, value) for key, value in pairs if value != ""])


@dataclass(frozen=True)
class ObjectView:
    index: int
    kind: str
    name: str
    namespace: str
    html: str
    download_query: str

    @property
    def anchor(self) -> str:
        return f"object-{self.index}"


def _object_views(objects: list[dict], controls: Controls) -> list[ObjectView]:
    views = []
    for index, obj in enumerate(objects):
        metadata = obj.get("metadata") or {}
        views.append(
            ObjectView(
                index=index,
                kind=obj.get("kind", ""),
                name=metadata.get("name", ""),
                namespace=metadata.get("namespace", ""),
                html=highlight.highlight_yaml(yamlio.dump(obj)),
                download_query=controls.query(index=index),
            )
        )
    return views


def _render(spec, controls: Controls) -> tuple[list[dict], dict, dict]:
    """(objects, typed pod options, errors by parameter); options are kept when rendering
    fails, so preflight can report them."""
    try:
        options = pod_options(controls.pod_strings())
    except BundleError as error:
        return [], {}, error.errors
    try:
        return render_kind(spec, controls.mode, controls.kind, options), options, {}
    except BundleError as error:
        return [], options, error.errors


def _selected_rails(spec, options: dict) -> tuple[int, ...] | None:
    try:
        return manifests.PodOptions.build(spec, options).rails
    except manifests.ManifestError:
        return None


def _default_gpus(spec) -> int:
    counts = Counter(node.gpu_count for node in spec.nodes)
    return counts.most_common(1)[0][0] if counts else manifests.DEFAULT_GPUS


def _ip_preview(spec, controls: Controls, options: dict) -> list[dict]:
    selected = _selected_rails(spec, options)
    preview = manifests.ip_preview(spec, controls.preview)
    return [
        {"rail": rail, "addresses": preview[rail.index]}
        for rail in sorted(spec.rails, key=lambda item: item.index)
        if not selected or rail.index in selected
    ]


def manifests_context(plan: Plan, controls: Controls) -> dict:
    spec = plan.to_spec()
    objects, options, errors = _render(spec, controls)
    mode_ok = controls.mode in manifests.MODES
    found = preflight.check_rendered(spec, controls.mode, options) if mode_ok else []
    return {
        "plan": plan,
        "controls": controls,
        "errors": errors,
        "objects": _object_views(objects, controls),
        "findings": found,
        "counts": findings.counts(found),
        "ip_preview": _ip_preview(spec, controls, options),
        "rails": sorted(spec.rails, key=lambda rail: rail.index),
        "default_gpus": _default_gpus(spec),
        "modes": MODE_LABELS,
        "layouts": LAYOUT_LABELS,
        "kinds": KINDS,
        "preview_max": PREVIEW_MAX,
    }


@require_GET
def highlight_css(request):
    """Pygments' token colours as a stylesheet (the Content-Security-Policy allows no inline
    <style>); the same for every page, so browsers may keep it a day."""
    response = HttpResponse(highlight.css(), content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_GET
@viewer_required
def plan_manifests(request, slug):
    plan = get_object_or_404(Plan, slug=slug)
    context = manifests_context(plan, Controls.from_query(request.GET))
    return _partial_or_page(
        request,
        "planner/manifests/manifests.html",
        "planner/manifests/_body.html",
        context,
        status=INVALID if context["errors"] else 200,
    )


@require_GET
@viewer_required
def manifests_download(request, slug):
    """The objects of the controls as one multi-document YAML file (`?index=N`: one object)."""
    plan = get_object_or_404(Plan, slug=slug)
    controls = Controls.from_query(request.GET)
    objects, _, errors = _render(plan.to_spec(), controls)
    if errors:
        lines = [f"{key}: {message}" for key, messages in errors.items() for message in messages]
        return HttpResponseBadRequest("\n".join(lines), content_type="text/plain; charset=utf-8")
    filename = f"{plan.slug}-{controls.kind}.yaml"
    index = request.GET.get("index", "")
    if index:
        position = numbers.small_int(index)
        if position is None or position >= len(objects):
            return HttpResponseBadRequest(f"index must be 0 to {len(objects) - 1}")
        obj = objects[position]
        objects = [obj]
        filename = f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
    response = HttpResponse(yamlio.dump_all(objects), content_type="application/yaml")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---------------------------------------------------------------------------------------------
# Lint YAML


def _excerpt(text: str, line: int | None) -> list[tuple[int, str, bool]]:
    """The lines around a 1-based `line`: (number, text, is_the_line)."""
    if not line:
        return []
    lines = text.splitlines()
    line = min(line, len(lines))  # an error at the very end points past the last line
    first, last = max(line - EXCERPT_LINES, 1), min(line + EXCERPT_LINES, len(lines))
    return [(number, lines[number - 1], number == line) for number in range(first, last + 1)]


def _lint_text(request) -> tuple[str, str | None]:
    upload = request.FILES.get("file")
    if upload is None:
        return request.POST.get("yaml", ""), None
    try:
        return uploads.upload_text(upload), None
    except uploads.UploadError as error:
        return "", str(error)


def _lint(request, context: dict) -> None:
    """Fills `findings`, or `error` (and `excerpt`) for input that cannot be checked."""
    text, error = _lint_text(request)
    context["text"] = text
    plan_key = request.POST.get("plan", "")
    plan = Plan.objects.filter(pk=plan_key).first() if numbers.is_id(plan_key) else None
    context["plan_id"] = plan.pk if plan else None
    if error:
        context["error"] = error
    elif plan_key and plan is None:
        context["error"] = "That plan no longer exists; pick another or none."
    elif not text.strip():
        context["error"] = "Paste some YAML or choose a file first."
    if "error" in context:
        return
    try:
        objects = yamlio.load_documents(text)
        found = safe_preflight(objects, plan.to_spec() if plan else None)
    except yamlio.YamlInputError as problem:
        context["error"] = problem.describe()
        context["excerpt"] = _excerpt(text, problem.line)
        return
    context.update(objects=[preflight.describe(obj, i) for i, obj in enumerate(objects)])
    context.update(findings=found, counts=findings.counts(found), checked=True)


@require_http_methods(["GET", "POST"])
@viewer_required
def lint(request):
    context: dict = {"plans": Plan.objects.only("id", "name", "slug"), "text": ""}
    if request.method == "POST":
        _lint(request, context)
    status = INVALID if context.get("error") else 200
    return _partial_or_page(
        request,
        "planner/manifests/lint.html",
        "planner/manifests/_lint_panel.html",
        context,
        status,
    )
