"""The Manifests tab of a plan: rendered objects, findings, IP preview.

It only reads, so the viewer role is enough. Rendering and its input rules are shared with the
API (`planner.api.manifests`). The Lint YAML page is clusters.lint_views (it may read a live
cluster); its logic is planner.lint.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from planner import findings, highlight, manifests, plancache, yamlio
from planner.api.manifests import KINDS, BundleError, pod_options, render_kind
from planner.models import Plan
from railstudio import numbers
from railstudio.web.access import viewer_required
from railstudio.web.htmx import INVALID, fragment_or_page

PREVIEW_DEFAULT = 4
PREVIEW_MAX = 64
MODE_LABELS = {"nad": "NADs", "sriov-operator": "SR-IOV operator"}
LAYOUT_LABELS = {"per-node": "Per node", "per-numa": "Per NUMA node"}


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
    revision = plancache.revision_of(plan)
    computed = plancache.cached(
        plan,
        "manifests-page",
        controls.query(),
        lambda: _computed_context(plan, revision, controls),
        revision,
    )
    return {
        "plan": plan,
        "controls": controls,
        **computed,
        "modes": MODE_LABELS,
        "layouts": LAYOUT_LABELS,
        "kinds": KINDS,
        "preview_max": PREVIEW_MAX,
    }


def _computed_context(plan: Plan, revision: str | None, controls: Controls) -> dict:
    """What the tab shows that depends on the plan: kept by plancache per revision and controls."""
    spec = plancache.spec(plan, revision)
    objects, options, errors = _render(spec, controls)
    mode_ok = controls.mode in manifests.MODES
    found = plancache.check_rendered(plan, controls.mode, options, revision) if mode_ok else []
    return {
        "errors": errors,
        "objects": _object_views(objects, controls),
        "findings": found,
        "counts": findings.counts(found),
        "ip_preview": _ip_preview(spec, controls, options),
        "rails": sorted(spec.rails, key=lambda rail: rail.index),
        "default_gpus": _default_gpus(spec),
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
    return fragment_or_page(
        request,
        "planner/manifests/manifests.html",
        "planner/manifests/partials/body.html",
        context,
        status=INVALID if context["errors"] else 200,
    )


@require_GET
@viewer_required
def manifests_download(request, slug):
    """The objects of the controls as one multi-document YAML file (`?index=N`: one object)."""
    plan = get_object_or_404(Plan, slug=slug)
    controls = Controls.from_query(request.GET)
    objects, _, errors = _render(plancache.spec(plan), controls)
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
