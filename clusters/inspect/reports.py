"""Pod reports: a pod's interfaces, events and diagnosis; a whole cluster inspected, and its
summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from clusters.inspect.context import Context, build_context
from clusters.inspect.events import events_of, group_events, own_events
from clusters.inspect.interfaces import STATUS_RANK, InterfaceReport, interface_reports, ip_owners
from clusters.inspect.network_status import NETWORKS_ANNOTATION
from clusters.inspect.plans import PlanIndex
from clusters.inspect.pods import PodView, is_dict, pod_reason, read_pod
from planner import manifests
from planner.findings import ERROR, INFO, WARNING, Finding
from planner.planspec import PlanSpec
from railstudio.gcpause import collector_paused


@dataclass(slots=True)
class PodReport:
    namespace: str
    name: str
    uid: str | None
    node: str | None
    phase: str
    reason: str | None
    message: str | None
    containers: list[dict]
    networks: list[dict]
    networks_error: str | None
    gpus: int
    vfs: dict[str, int]
    capabilities: list[str]
    privileged: bool
    interfaces: list[InterfaceReport]
    events: list[dict]
    findings: list[Finding]
    primary_ip: str | None = None  # eth0: the default network's address
    primary_network: str | None = None  # the default network's name, as Multus reports it

    @property
    def problems(self) -> int:
        return sum(1 for item in self.findings if item.severity in (ERROR, WARNING))

    @property
    def ok(self) -> bool:
        return self.problems == 0

    def to_dict(self) -> dict:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
            "node": self.node,
            "phase": self.phase,
            "reason": self.reason,
            "message": self.message,
            "containers": self.containers,
            "networks": self.networks,
            "networks_error": self.networks_error,
            "gpus": self.gpus,
            "vfs": self.vfs,
            "capabilities": self.capabilities,
            "privileged": self.privileged,
            "interfaces": [item.to_dict() for item in self.interfaces],
            "events": self.events,
            "findings": [item.to_dict() for item in self.findings],
            "primary_ip": self.primary_ip,
            "primary_network": self.primary_network,
            "ok": self.ok,
            "problems": self.problems,
        }


def _report(view: PodView, context: Context, interfaces, events, findings) -> PodReport:
    gpu_resource = context.gpu_resource
    primary = next((entry for entry in view.status_entries if entry["default"]), None)
    primary_ips = primary["ips"] if primary else []
    return PodReport(
        namespace=view.namespace,
        name=view.name,
        uid=view.uid,
        node=view.node,
        phase=view.phase,
        reason=pod_reason(view),
        message=view.message or view.scheduling_message,
        containers=view.container_states,
        networks=[
            {"name": item["name"], "namespace": item["namespace"], "interface": item["interface"]}
            for item in view.networks
        ],
        networks_error=view.networks_error,
        gpus=int(view.requests.get(gpu_resource, 0)),
        vfs={
            resource: int(amount)
            for resource, amount in sorted(view.requests.items())
            if amount and context.is_vf_resource(resource)
        },
        capabilities=view.capabilities(),
        privileged=any(container.privileged for container in view.containers),
        interfaces=interfaces,
        events=events,
        findings=findings,
        primary_ip=primary_ips[0] if primary_ips else view.pod_ip,
        primary_network=primary["name"] if primary else None,
    )


def inspect_pods(
    pods: list[dict],
    events: list[dict],
    plan: PlanSpec | None,
    *,
    nodes: list[dict] | None = None,
    nads: list[dict] | None = None,
    ippools: list[dict] | None = None,
    devices: dict[str, dict] | None = None,
    namespace: str | None = None,
) -> list[PodReport]:
    """A report for every pod that asks for secondary networks (either annotation form), in the
    order given, optionally only those of `namespace`."""
    plans = {} if namespace is None else {namespace: plan}
    return inspect_cluster(
        pods, events, plans, nodes=nodes, nads=nads, ippools=ippools, devices=devices,
        default_plan=plan, others=namespace is None,
    )  # fmt: skip


def inspect_cluster(
    pods: list[dict],
    events: list[dict],
    plans: dict[str, PlanSpec | None],
    *,
    nodes: list[dict] | None = None,
    nads: list[dict] | None = None,
    ippools: list[dict] | None = None,
    devices: dict[str, dict] | None = None,
    default_plan: PlanSpec | None = None,
    others: bool = True,
    reader: PodReader | None = None,
    owners: dict[str, PlanSpec] | None = None,
) -> list[PodReport]:
    """Reports for a whole cluster in one pass over its pods and events: the pods of each
    namespace in `plans` compared with that plan, then (unless `others` is False) the pods of
    every other namespace with `default_plan`. With `owners` (plans by slug), a pod that asks
    for a NAD labelled as one of them is compared with that plan, and every interface with the
    plan that owns its NAD: two plans may share a namespace. Addresses are checked for
    duplicates within each group. A `reader` kept from the cluster's last inspection spares
    reading again the pods that did not change since."""
    from clusters.diagnose import diagnose_view  # diagnose builds on this package

    with collector_paused():
        views = (reader or PodReader()).read(pods)
        owner_of = nad_owners(nads, owners or {})
        groups: dict = {namespace: [] for namespace in plans}
        for view in views:
            if not view.asks_for_networks:
                continue
            slug = _pod_owner(view, owner_of)
            key = (
                ("plan", slug)
                if slug is not None
                else (view.namespace if view.namespace in plans else None)
            )
            if key is not None or others:
                groups.setdefault(key, []).append(view)
        indexes = {slug: PlanIndex(owners[slug]) for slug in set(owner_of.values())}
        nad_plans = {nad: indexes[slug] for nad, slug in owner_of.items()}
        grouped_events = group_events(events)
        reports = []
        for key, members in groups.items():
            if isinstance(key, tuple):
                context = build_context(None, nodes, nads, ippools)
                context = replace(context, plan=indexes[key[1]])
            else:
                plan = plans[key] if key is not None else default_plan
                context = build_context(plan, nodes, nads, ippools)
            context.nad_plans = nad_plans
            reports += _reports(members, context, grouped_events, devices or {}, diagnose_view)
        return reports


def nad_owners(nads: list[dict] | None, owners: dict[str, PlanSpec]) -> dict[tuple, str]:
    """(namespace, NAD name) -> the slug of the plan in `owners` whose label the NAD carries."""
    found: dict[tuple, str] = {}
    if not owners:
        return found
    for entry in nads or []:
        metadata = entry.get("metadata") if is_dict(entry) else None
        if not is_dict(metadata) or not metadata.get("name"):
            continue
        labels = metadata.get("labels") if is_dict(metadata.get("labels")) else {}
        slug = labels.get(manifests.PLAN_LABEL)
        if slug in owners:
            found[(metadata.get("namespace"), metadata["name"])] = slug
    return found


def _pod_owner(view: PodView, owner_of: dict[tuple, str]) -> str | None:
    for attachment in view.networks:
        slug = owner_of.get((attachment["namespace"], attachment["name"]))
        if slug is not None:
            return slug
    return None


class PodReader:
    """Reads a cluster's pods into PodViews, remembering the views of the last read by
    (uid, resourceVersion): the API server gives an object a new resourceVersion whenever it
    changes, so a pod listed again with the same one reads the same. Only the pods of the
    latest read are remembered. PodViews are never changed once read."""

    def __init__(self):
        self._views: dict[tuple[str, str], PodView] = {}

    @property
    def remembered(self) -> int:
        return len(self._views)

    def read(self, pods: list[dict]) -> list[PodView]:
        annotation_cache: dict = {}
        views, remembered = [], {}
        for pod in pods:
            if not _may_ask_for_networks(pod):
                continue
            metadata = pod["metadata"]
            key = (metadata.get("uid"), metadata.get("resourceVersion"))
            known = type(key[0]) is str and type(key[1]) is str and all(key)
            view = self._views.get(key) if known else None
            if view is None:
                view = read_pod(pod, annotation_cache)
            if known:
                remembered[key] = view
            views.append(view)
        self._views = remembered
        return views


def _may_ask_for_networks(pod) -> bool:
    """A cheap look before reading the whole pod: most pods of a cluster (its DaemonSets) ask
    for no secondary network."""
    metadata = pod.get("metadata") if is_dict(pod) else None
    if not is_dict(metadata):
        return False
    annotations = metadata.get("annotations") or {}
    return is_dict(annotations) and bool(annotations.get(NETWORKS_ANNOTATION))


def _reports(views, context, grouped_events, devices, diagnose_view) -> list[PodReport]:
    owners = ip_owners(views)
    reports = []
    for view in views:
        pod_devices = devices.get(view.key)
        interfaces = interface_reports(view, context, owners, pod_devices)
        pod_events = events_of(view, grouped_events)
        findings = diagnose_view(view, pod_events, context, interfaces, pod_devices)
        reports.append(_report(view, context, interfaces, pod_events, findings))
    return reports


def events_for(report: PodReport, events: list[dict]) -> list[dict]:
    """A pod's events (as in its report: normalised, oldest first, this uid's) from a list."""
    return own_events(group_events(events), report.namespace, report.name, report.uid)


def summarize(reports: list[PodReport]) -> dict:
    """Counts for a page header: pods, ok, with problems, pods per problem code (info findings
    such as NUMA_UNVERIFIED are not problems), interfaces per status."""
    by_code: Counter = Counter()
    by_status: Counter = Counter()
    for report in reports:
        by_code.update({item.code for item in report.findings if item.severity != INFO})
        by_status.update(item.status for item in report.interfaces)
    return {
        "pods": len(reports),
        "ok": sum(1 for report in reports if report.ok),
        "with_problems": sum(1 for report in reports if not report.ok),
        "by_code": dict(sorted(by_code.items(), key=lambda pair: (-pair[1], pair[0]))),
        "interfaces": dict(sorted(by_status.items(), key=lambda pair: STATUS_RANK[pair[0]])),
    }
