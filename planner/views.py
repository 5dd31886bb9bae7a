"""Studio pages: plans, the IP map with its htmx edits, and the node/NIC inventory.

Every write goes through the API serializers (or the same service functions the API calls), so a
page and the API reject bad input with the same words. Reads need the viewer role, writes the
planner role; the login itself is enforced by the middleware.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from planner import (
    allocation,
    documents,
    forms,
    import_jobs,
    inventory,
    ipam,
    plancache,
    services,
    svg,
)
from planner.api.serializers import ExclusionSerializer, PlanSerializer
from planner.models import Exclusion, ImportState, Node, NodeNIC, Plan, Rail
from planner.usage import UsageRow
from railstudio import datalimits, db_errors, uploads
from railstudio.web.access import planner_post, planner_required, viewer_required
from railstudio.web.htmx import INVALID

EXCLUSION_LIST_LIMIT = 100
NODES_PER_PAGE = 50
IMPORT_ERROR_LIMIT = 200
DUPLICATE_HOST_IP = (
    "Two NICs on the same rail would share a host IP (in this file, or with a NIC already "
    "in the plan); a host IP is unique per rail. Nothing was imported."
)


# ---------------------------------------------------------------------------------------------
# What the templates draw


@dataclass(frozen=True)
class ExclusionRow:
    id: int
    display: str
    size: int
    purpose: str
    note: str


@dataclass
class RailPanel:
    """One rail on the plan page: its map, its exclusions and its add form."""

    rail: Rail
    usage: ipam.RailUsage
    map: svg.RailMap
    exclusions: list[ExclusionRow]
    exclusion_count: int
    host_blocks: int
    suggestion: str  # the lowest free block, as a placeholder for the CIDR field
    form: dict = field(default_factory=dict)
    form_errors: dict = field(default_factory=dict)
    drag_errors: list[str] = field(default_factory=list)
    flash: str = ""

    @property
    def more_exclusions(self) -> int:
        return self.exclusion_count - len(self.exclusions)

    @property
    def keyboard_block(self) -> tuple[int, int]:
        """(first address, size) of the block the map's keyboard selection starts with: the
        suggestion (the lowest free block), else a block of that size at the subnet's start."""
        if self.suggestion:
            first, last = ipam.span_of(self.suggestion)
            return first, last - first + 1
        return self.map.first, min(self.map.size, 1 << max(0, self.map.size.bit_length() - 9))


PURPOSE_LABELS = dict(forms.PURPOSE_CHOICES)


def rail_panel(rail: Rail, revision=plancache.LOOKUP, **state) -> RailPanel:
    """The rail's map, figures and exclusion list, kept per plan revision (planner.plancache)."""
    parts = plancache.cached(rail.plan, "rail-panel", rail.pk, lambda: _panel_parts(rail), revision)
    return RailPanel(rail=rail, **parts, **state)


def _panel_parts(rail: Rail) -> dict:
    """Reads the rail's exclusions once: for the map's spans, its notes and the list."""
    rows = []
    exclusions = rail.exclusions.order_by()  # sorted by span below: no join or sort in SQL
    for pk, cidr, start, end, purpose, note, first_ip, last_ip in exclusions.values_list(
        "id", "cidr", "start", "end", "purpose", "note", "first_ip", "last_ip"
    ):
        span = (ipam.ip_to_int(first_ip), ipam.ip_to_int(last_ip))
        label = PURPOSE_LABELS.get(purpose, purpose)
        row = ExclusionRow(pk, cidr or f"{start}-{end}", span[1] - span[0] + 1, label, note)
        rows.append((span, row))
    rows.sort(key=lambda pair: pair[0])
    space = ipam.RailSpace.build(
        rail.subnet,
        exclusions=[span for span, _ in rows],
        host_ips=rail.host_ip_ints(),
        range_start=rail.range_start,
        range_end=rail.range_end,
    )
    notes = [
        (span, f"{row.purpose}: {row.note}" if row.note else row.purpose) for span, row in rows
    ]
    return {
        "usage": space.usage(),
        "map": svg.rail_map(space, notes),
        "exclusions": [row for _, row in rows[:EXCLUSION_LIST_LIMIT]],
        "exclusion_count": len(rows),
        "host_blocks": len(space.hosts),
        "suggestion": space.next_free_prefix(suggested_length(space)) or "",
    }


def suggested_length(space: ipam.RailSpace) -> int:
    """A block 1/256 of the rail (a /24 in a /16), at most a /30 (a /126 in IPv6)."""
    max_length = 32 if space.version == 4 else 128
    prefix = max_length - (space.subnet_span[1] - space.subnet_span[0] + 1).bit_length() + 1
    return min(prefix + 8, max_length - 2)


def usage_rows(plan: Plan, revision: str | None = None) -> list[UsageRow]:
    return [UsageRow(state.rail, state.usage) for state in services.rail_states(plan, revision)]


def usage_context(plan: Plan, rows: list[UsageRow], revision: str | None = None) -> dict:
    return {"plan": plan, "usage_rows": rows, "warnings": services.plan_warnings(plan, revision)}


def plan_page(request, plan: Plan, status: int = 200, rail_state: dict | None = None):
    """The plan page; `rail_state` maps a rail index to the form state of its panel."""
    rail_state = rail_state or {}
    revision = plancache.revision_of(plan)
    panels = [
        rail_panel(rail, revision, **rail_state.get(rail.index, {}))
        for rail in plan.rails.select_related("plan").order_by("index")
    ]
    rows = [UsageRow(panel.rail, panel.usage) for panel in panels]
    context = usage_context(plan, rows, revision)
    context.update(panels=panels, legend=svg.KIND_LABELS, purposes=forms.PURPOSE_CHOICES)
    context["carved"] = carved_text(plan)
    return render(request, "planner/plan_detail.html", context, status=status)


def carved_text(plan: Plan) -> str:
    """How the plan's supernet was carved, for the summary (its rails may differ since)."""
    if not plan.supernet:
        return ""
    try:
        reading = ipam.read_carve(plan.supernet, plan.rail_prefix_length, plan.rail_count)
    except ipam.AddressError:
        return ""
    if reading.aligned:
        return f"carved {reading.first} – {reading.last}"
    length = plan.supernet.rsplit("/", 1)[1]
    return (
        f"carved from its address: {reading.first} – {reading.last} "
        f"(the /{length} network is {reading.network})"
    )


# ---------------------------------------------------------------------------------------------
# Plans


@viewer_required
def plan_list(request):
    plans = Plan.objects.annotate(
        rail_total=Count("rails", distinct=True), node_count=Count("nodes", distinct=True)
    )
    return render(request, "planner/plan_list.html", {"plans": plans})


@planner_required
def plan_create(request):
    typed = dict(forms.PLAN_DEFAULTS)
    errors: dict = {}
    if request.method == "POST":
        typed = forms.typed(request.POST, [spec.name for spec in forms.PLAN_FIELDS])
        serializer = PlanSerializer(data=forms.plan_data(typed))
        if serializer.is_valid():
            try:
                plan = serializer.save()
            except IntegrityError:
                slug = serializer.validated_data.get("slug")
                errors = {"name": [f"A plan with the slug '{slug}' exists; choose another name."]}
            else:
                messages.success(
                    request, f"Created plan {plan.name} with {plan.rails.count()} rails."
                )
                return redirect("plan-detail", slug=plan.slug)
        else:
            errors = serializer.errors
    context = {
        "fields": forms.bind(forms.PLAN_FIELDS, typed, errors),
        "other_errors": forms.other_errors(forms.PLAN_FIELDS, errors),
        "preview": forms.carve_preview(typed),
    }
    status = INVALID if errors else 200
    return render(request, "planner/plan_form.html", context, status=status)


@planner_required
def plan_create_preview(request):
    """The New-plan form's live preview (htmx): the rails these values carve, or why none."""
    typed = forms.typed(request.GET, [spec.name for spec in forms.PLAN_FIELDS])
    context = {"preview": forms.carve_preview(typed)}
    return render(request, "planner/partials/carve_preview.html", context)


def _posted_document(request) -> str:
    upload = request.FILES.get("file")
    if upload is None:
        return request.POST.get("text", "")
    try:
        return uploads.upload_text(upload)
    except uploads.UploadError as error:
        raise documents.DocumentError({"file": [str(error)]}) from None


def _plan_document(text: str) -> dict:
    """A pasted or uploaded plan document (YAML or JSON), or DocumentError naming the line."""
    if not text.strip():
        raise documents.DocumentError(
            {"document": ["Choose a file, or paste the plan document into the text box."]}
        )
    try:
        document = datalimits.load_yaml(text)
    except datalimits.LimitError as error:
        raise documents.DocumentError(
            {"document": [f"The document cannot be read: {error}."]}
        ) from None
    if not isinstance(document, dict):
        raise documents.DocumentError(
            {
                "document": [
                    "Expected a plan document: a mapping with `plan` (and `rails`, `nodes`)."
                ]
            }
        )
    return document


@planner_required
def plan_import(request):
    """A whole plan from one document, as Export writes it (and POST /api/plans/import/ reads
    it): all or nothing, errors by path (rails.2.subnet)."""
    context: dict = {"import_text": ""}
    status = 200
    if request.method == "POST":
        context["import_text"] = request.POST.get("text", "")
        try:
            plan = documents.import_plan(_plan_document(_posted_document(request)))
        except documents.DocumentError as error:
            problems = _import_errors(error.errors)
        except IntegrityError:
            problems = [("plan.slug", "A plan with that name or slug was created meanwhile.")]
        else:
            messages.success(request, f"Imported plan {plan.name} with {plan.rails.count()} rails.")
            return redirect(plan)
        context.update(
            import_errors=problems[:IMPORT_ERROR_LIMIT],
            import_errors_more=max(0, len(problems) - IMPORT_ERROR_LIMIT),
        )
        status = INVALID
    return render(request, "planner/plan_import.html", context, status=status)


@viewer_required
def plan_detail(request, slug):
    return plan_page(request, get_object_or_404(Plan, slug=slug))


# ---------------------------------------------------------------------------------------------
# Exclusions (htmx partials; a plain POST without htmx redirects or re-renders the page)


def get_rail(slug: str, index: int) -> Rail:
    return get_object_or_404(Rail.objects.select_related("plan"), plan__slug=slug, index=index)


def rail_response(request, rail: Rail, status: int = 200, **state):
    if not request.htmx:
        if status == 200:
            page = reverse("plan-detail", args=[rail.plan.slug])
            return redirect(f"{page}#rail-{rail.index}")
        return plan_page(request, rail.plan, status, rail_state={rail.index: state})
    revision = plancache.revision_of(rail.plan)
    context = usage_context(rail.plan, usage_rows(rail.plan, revision), revision)
    context.update(panel=rail_panel(rail, revision, **state), purposes=forms.PURPOSE_CHOICES)
    return render(request, "planner/partials/rail_update.html", context, status=status)


def save_exclusion(rail: Rail, data: dict) -> tuple[Exclusion | None, dict]:
    """Validate and create in one transaction: the serializer locks the rail (planner.locks),
    as on the API, so two edits cannot overlap."""
    with transaction.atomic():
        serializer = ExclusionSerializer(data={**data, "rail": rail.pk})
        if not serializer.is_valid():
            return None, serializer.errors
        return serializer.save(), {}


@planner_post
def exclusion_add(request, slug, index):
    rail = get_rail(slug, index)
    typed = forms.typed(request.POST, forms.EXCLUSION_FIELDS)
    exclusion, errors = save_exclusion(rail, forms.exclusion_data(typed))
    if errors:
        return rail_response(request, rail, INVALID, form=typed, form_errors=errors)
    return rail_response(request, rail, flash=f"Excluded {exclusion.display}.")


def drag_error_texts(span: ipam.Span, version: int, errors: dict) -> list[str]:
    label = ipam.span_text(span, version)
    texts = []
    for message in (str(m) for messages_ in errors.values() for m in messages_):
        if message.startswith(label):
            texts.append(f"Cannot exclude the dragged range: {message}")
        else:
            texts.append(f"Cannot exclude the dragged range {label}: {message}")
    return texts


@planner_post
def exclusion_drag(request, slug, index):
    rail = get_rail(slug, index)
    space = ipam.RailSpace.build(rail.subnet)
    try:
        span = forms.dragged_span(request.POST, space.subnet_span, space.version)
    except forms.DragError as error:
        return rail_response(request, rail, INVALID, drag_errors=[str(error)])
    data = forms.exclusion_for_span(span, space.version)
    data.update(purpose=forms.DRAG_PURPOSE, note=forms.DRAG_NOTE)
    exclusion, errors = save_exclusion(rail, data)
    if errors:
        return rail_response(
            request, rail, INVALID, drag_errors=drag_error_texts(span, space.version, errors)
        )
    return rail_response(request, rail, flash=f"Excluded {exclusion.display} (snapped to CIDRs).")


@planner_post
def exclusion_delete(request, slug, pk):
    exclusion = get_object_or_404(Exclusion.objects.select_related("rail__plan"), pk=pk)
    if exclusion.rail.plan.slug != slug:
        raise PermissionDenied("The exclusion belongs to another plan.")
    rail, display = exclusion.rail, exclusion.display
    exclusion.delete()
    return rail_response(request, rail, flash=f"Removed the exclusion {display}.")


# ---------------------------------------------------------------------------------------------
# Nodes and NICs


def nodes_page(request, plan: Plan, status: int = 200, **extra):
    query = request.GET.get("q", "").strip()
    nodes = plan.nodes.order_by("name").prefetch_related(
        Prefetch("nics", queryset=NodeNIC.objects.select_related("rail").order_by("rail__index"))
    )
    if query:
        nodes = nodes.filter(name__icontains=query)
    page = Paginator(nodes, NODES_PER_PAGE).get_page(request.GET.get("page"))
    node_total, counts = plancache.cached(plan, "node-counts", None, lambda: _node_counts(plan))
    context = {
        "plan": plan,
        "page": page,
        "query": query,
        "node_total": node_total,
        "counts": counts,
        "rails": plan.rails.order_by("index"),
        "active_imports": list(
            plan.imports.filter(state__in=[ImportState.QUEUED, ImportState.RUNNING])
            .defer("text")
            .order_by("-id")[:5]
        ),
        **extra,
    }
    return render(request, "planner/plan_nodes.html", context, status=status)


def _node_counts(plan: Plan) -> tuple[int, dict]:
    counts = NodeNIC.objects.filter(node__plan=plan).aggregate(
        nics=Count("id"), unaddressed=Count("id", filter=Q(host_ip__isnull=True))
    )
    return Node.objects.filter(plan=plan).count(), counts


@viewer_required
def plan_nodes(request, slug):
    return nodes_page(request, get_object_or_404(Plan, slug=slug))


def _inventory_text(request) -> tuple[str, str]:
    upload = request.FILES.get("file")
    if upload is not None:
        try:
            return uploads.upload_text(upload), upload.name
        except uploads.UploadError as error:
            raise inventory.InventoryError({"file": [str(error)]}) from None
    text = request.POST.get("text", "")
    if not text.strip():
        raise inventory.InventoryError(
            {"file": ["Choose a CSV or YAML file, or paste the inventory into the text box."]}
        )
    return text, ""


def _import_errors(errors: dict) -> list[tuple[str, str]]:
    return [(where, str(message)) for where, messages_ in errors.items() for message in messages_]


@planner_post
def node_import(request, slug):
    plan = get_object_or_404(Plan, slug=slug)
    try:
        text, filename = _inventory_text(request)
        if import_jobs.runs_in_worker(text):
            job = import_jobs.start(plan, text, filename, request.user)
            return redirect("node-import-job", slug=plan.slug, pk=job.pk)
        counts = inventory.import_nodes(plan, inventory.parse(text, filename))
    except inventory.InventoryError as error:
        problems = _import_errors(error.errors)
    except IntegrityError:  # a write that raced this import past its checks
        problems = [("host_ip", DUPLICATE_HOST_IP)]
    except DatabaseError as error:  # no validator saw it: say what, never the database's text
        problems = [("file", db_errors.describe(error).message)]
    else:
        messages.success(
            request,
            "Imported the inventory: {nodes_created} nodes created, {nodes_updated} updated, "
            "{nics_created} NICs created, {nics_updated} updated.".format(**counts),
        )
        return redirect("plan-nodes", slug=plan.slug)
    return nodes_page(
        request,
        plan,
        INVALID,
        import_errors=problems[:IMPORT_ERROR_LIMIT],
        import_errors_more=max(0, len(problems) - IMPORT_ERROR_LIMIT),
        import_text=request.POST.get("text", ""),
    )


@planner_post
def host_ip_allocate(request, slug):
    plan = get_object_or_404(Plan, slug=slug)
    try:
        given = allocation.allocate_plan(plan)
    except allocation.NoRoom as error:
        return nodes_page(request, plan, 409, allocate_error=str(error))
    total = sum(given.values())
    if total:
        per_rail = ", ".join(f"rail {index}: {count}" for index, count in given.items() if count)
        messages.success(request, f"Allocated {total} host IPs ({per_rail}).")
    else:
        messages.info(request, "Every NIC already has a host IP; nothing to allocate.")
    return redirect("plan-nodes", slug=plan.slug)
