"""Running a validation inside a Celery task: the only part of clusters.validation with I/O
(the cluster through clusters.kube, the database through the ORM).

    request_validation(cluster, plan, user, mode=..., nodes=[...]) -> Validation (pending)
    execute(validation_id)  # in the worker: deploy, wait, test, store, remove the probe

A run always ends in a state: succeeded (it ran; whether the rails passed is in its summary
and findings), failed (it could not run: the cluster did not answer, the plan is gone),
cancelled. The probe DaemonSet is deleted at the end unless the run asked to keep it.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clusters import diagnose as diagnosis
from clusters import inspect
from clusters.kube import ExecJob, Kube, KubeError
from clusters.models import (
    VALIDATION_ACTIVE_STATES,
    Cluster,
    Validation,
    ValidationRail,
    ValidationState,
)
from clusters.rollout import target_for
from clusters.validation import (
    commands,
    compare,
    findings,
    heatmap,
    liveness,
    parsers,
    probe,
    results,
    schedule,
)
from clusters.validation.commands import ProbeOptions, RailEndpoint, Sweep
from clusters.validation.findings import ERROR, WARNING, RailFacts, finding
from planner.manifests import DEFAULT_GPU_RESOURCE as GPU_RESOURCE
from planner.manifests import NAD_API_VERSION, NAD_KIND
from planner.models import Plan
from planner.planspec import PlanSpec

PROGRESS_INTERVAL = 0.5  # seconds between progress writes (and cancel checks)
DIAGNOSED_PODS = 32  # probes that did not become Ready whose events are read
QOS_NODES = 64  # nodes whose QoS state is read after RDMA failures
PHASES = {
    "deploying": "Deploying the probe DaemonSet",
    "waiting": "Waiting for the probes to become Ready",
    "agent": "Reading each node's agent",
    "icmp": "Pinging every pair on every rail",
    "rdma": "RDMA between nodes",
    "qos": "Reading QoS state where RDMA failed",
    "analysis": "Building matrices and findings",
    "cleanup": "Removing the probe",
}


class ValidationConflict(Exception):
    """Another validation of the same cluster is pending or running."""


class Cancelled(Exception):
    pass


def request_validation(
    cluster: Cluster,
    plan: Plan,
    user,
    *,
    mode: str,
    nodes: list[str] | None = None,
    keep_probe: bool = False,
    scheduled: bool = False,
) -> Validation:
    liveness.reap(cluster.pk)  # a run whose worker died must not lock the cluster
    try:
        with transaction.atomic():
            active = cluster.validations.filter(state__in=VALIDATION_ACTIVE_STATES).first()
            if active is not None:
                raise ValidationConflict(_conflict(cluster, active))
            return Validation.objects.create(
                cluster=cluster,
                plan=plan,
                plan_slug=plan.slug,
                mode=mode,
                requested_nodes=list(nodes or []),
                keep_probe=keep_probe,
                scheduled=scheduled,
                created_by=user if user is not None and user.is_authenticated else None,
            )
    except IntegrityError:
        active = cluster.validations.filter(state__in=VALIDATION_ACTIVE_STATES).first()
        raise ValidationConflict(_conflict(cluster, active)) from None


def _conflict(cluster: Cluster, active: Validation | None) -> str:
    detail = f" (#{active.pk} of {active.plan_slug}, {active.state})" if active else ""
    return (
        f"A validation of {cluster.name} is already in progress{detail}; wait for it or cancel it."
    )


def cancel(validation: Validation) -> Validation:
    """A pending run is cancelled at once; a running one stops at its next step."""
    with transaction.atomic():
        current = Validation.objects.select_for_update().get(pk=validation.pk)
        if current.state == ValidationState.RUNNING and liveness.is_stale(current):
            current.state = ValidationState.CANCELLED
            current.message = liveness.lost_message(current, timezone.now(), lead="Cancelled")
            current.finished_at = timezone.now()
            current.save(update_fields=["state", "message", "finished_at"])
        elif current.state == ValidationState.PENDING:
            current.state = ValidationState.CANCELLED
            current.message = "Cancelled before it started."
            current.finished_at = timezone.now()
            current.save(update_fields=["state", "message", "finished_at"])
        elif current.state == ValidationState.RUNNING:
            current.cancel_requested = True
            current.save(update_fields=["cancel_requested"])
    return current


def _finish(validation: Validation, state: str, message: str) -> None:
    """End the run, unless something else ended it first (reaped as lost: keep its word)."""
    validation.state = state
    validation.message = message
    validation.finished_at = timezone.now()
    Validation.objects.filter(pk=validation.pk, state__in=VALIDATION_ACTIVE_STATES).update(
        state=state, message=message, finished_at=validation.finished_at,
        progress=validation.progress,
    )  # fmt: skip


class Lost(Exception):
    """The run was ended while this worker still ran it (reaped as lost after its heartbeat
    stopped for too long): stop, remove the probe, leave the record as it is."""


def execute(validation_id: int) -> str:
    validation = Validation.objects.select_related("cluster", "plan").get(pk=validation_id)
    if validation.state not in VALIDATION_ACTIVE_STATES:
        return validation.state
    if validation.cancel_requested:
        _finish(validation, ValidationState.CANCELLED, "Cancelled before it started.")
        return validation.state
    validation.state = ValidationState.RUNNING
    validation.started_at = validation.started_at or timezone.now()
    validation.attempts += 1
    validation.save(update_fields=["state", "started_at", "attempts"])
    run = Run(validation)
    try:
        if validation.plan is None:
            raise _Failure("The plan of this validation no longer exists.")
        with liveness.Heartbeat(validation.pk), Kube(target_for(validation.cluster)) as kube:
            run.kube = kube
            try:
                run.go()
            finally:
                run.cleanup()
    except Lost:
        return Validation.objects.values_list("state", flat=True).get(pk=validation_id)
    except Cancelled:
        _finish(validation, ValidationState.CANCELLED, "Cancelled; the probe was removed.")
    except _Failure as failure:
        _finish(validation, ValidationState.FAILED, str(failure))
    except KubeError as error:
        _finish(validation, ValidationState.FAILED, f"The cluster's API failed: {error}")
    except Exception as error:
        _finish(validation, ValidationState.FAILED, f"Internal error: {error}")
        raise
    return validation.state


class _Failure(Exception):
    pass


@dataclass
class Stats:
    execs: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def count(self, job: ExecJob, output: tuple[str, str, int] | None) -> None:
        self.execs += 1
        self.bytes_sent += sum(len(word) for word in job.command)
        if output:
            self.bytes_received += len(output[0]) + len(output[1])


class Run:
    def __init__(self, validation: Validation):
        self.validation = validation
        self.kube: Kube | None = None
        self.options = ProbeOptions(
            ping_parallel=settings.VALIDATION_PING_PARALLEL,
            gpudirect=settings.VALIDATION_GPUDIRECT,
        )
        self.parallel = max(1, settings.VALIDATION_PARALLEL_EXECS)
        self.stats = Stats()
        self.extra: list[dict] = []  # findings about the run itself
        self.deployed = False
        self._last_progress = 0.0
        self._phase_started = time.monotonic()

    # Progress and cancel -------------------------------------------------------------------

    def progress(self, phase: str, done: int = 0, total: int = 0, force: bool = False) -> None:
        now = time.monotonic()
        previous = self.validation.progress.get("phase")
        if previous != phase:
            if previous:
                self.stats.seconds[previous] = round(now - self._phase_started, 3)
            self._phase_started = now
            force = True
        if not force and now - self._last_progress < PROGRESS_INTERVAL:
            return
        self._last_progress = now
        phases = list(PHASES)
        share = (done / total) if total else 0.0
        percent = round(100 * (phases.index(phase) + share) / len(phases))
        self.validation.progress = {
            "phase": phase, "label": PHASES[phase], "done": done, "total": total,
            "percent": min(percent, 99),
        }  # fmt: skip
        written = Validation.objects.filter(
            pk=self.validation.pk, state=ValidationState.RUNNING
        ).update(progress=self.validation.progress)
        if not written:
            raise Lost()
        if Validation.objects.filter(pk=self.validation.pk, cancel_requested=True).exists():
            raise Cancelled()

    # The run -------------------------------------------------------------------------------

    def go(self) -> None:
        validation = self.validation
        plan = validation.plan.to_spec()
        self.plan = plan
        self.rails = sorted(plan.rails, key=lambda rail: rail.index)
        if not self.rails:
            raise _Failure(f"Plan {plan.slug} has no rails to validate.")
        self.progress("deploying", force=True)
        cluster_nodes = self.kube.nodes()
        wanted = self._chosen_nodes(plan, cluster_nodes)
        if not wanted:
            raise _Failure("No node of the cluster is in the plan: nothing to validate.")
        manifest = probe.daemonset(
            plan, validation.pk, wanted,
            probe_image=settings.VALIDATION_PROBE_IMAGE,
            agent_image=settings.VALIDATION_AGENT_IMAGE,
            gpudirect=settings.VALIDATION_GPUDIRECT,
        )  # fmt: skip
        self.kube.ensure_namespace(plan.namespace)
        self.kube.apply(manifest)
        self.deployed = True
        pods = self._wait_ready(wanted, cluster_nodes)
        self.nodes = sorted(pods)
        self.pods = pods
        self.endpoints = self._endpoints()
        self.facts: dict[tuple[int, int], RailFacts] = {}
        self.unavailable: list[tuple[str, str]] = []
        count = len(self.nodes)
        self.rounds = schedule.rdma_rounds(count, validation.mode, settings.VALIDATION_RDMA_PEERS)
        self.icmp: dict[int, dict] = defaultdict(dict)
        self.mtu: dict[int, tuple[int, dict]] = {}
        self.cross: dict[int, list[dict]] = defaultdict(list)
        self.rdma: dict[int, list[results.RdmaTest]] = defaultdict(list)
        if count:
            if validation.mode == "strict":  # the MTU sweep's size comes from the agents
                self._run_jobs("agent", self._agent_jobs())
                self._run_jobs("icmp", self._sweep_jobs())
            else:  # agents and pings use different containers: one batch of execs
                self._run_jobs("icmp", self._agent_jobs() + self._sweep_jobs())
            self._agents_done()
            for position, offset in enumerate(self.rounds):
                self._rdma_round(offset, servers_started=position == 0)
        self.qos = self._qos() if count else {}
        self.progress("analysis", force=True)
        self._store()

    def _chosen_nodes(self, plan: PlanSpec, cluster_nodes: list[dict]) -> list[str]:
        live = {node["metadata"]["name"] for node in cluster_nodes}
        requested = self.validation.requested_nodes or [node.name for node in plan.nodes]
        if not requested:  # a plan without a node inventory: nodes offering its VFs
            resources = {rail.resource_name for rail in self.rails if rail.resource_name}
            requested = [
                node["metadata"]["name"]
                for node in cluster_nodes
                if resources & set((node.get("status") or {}).get("capacity") or {})
            ]
        missing = sorted(set(requested) - live)
        for name in missing:
            self.extra.append(finding(
                "PROBE_NOT_READY", ERROR,
                f"{name} is in the plan but not in the cluster: nothing was tested there.",
                f"Check the node's name in the plan's inventory, or whether {name} left the cluster.",
                node=name,
            ))  # fmt: skip
        chosen = sorted(set(requested) & live)
        return chosen[: settings.VALIDATION_MAX_NODES]

    def _wait_ready(self, wanted: list[str], cluster_nodes: list[dict]) -> dict[str, dict]:
        namespace = self.plan.namespace
        selector = probe.selector_for(self.validation.pk)
        deadline = time.monotonic() + settings.VALIDATION_READY_SECONDS
        delay = 0.2
        while True:
            pods = self.kube.pods(namespace, selector)
            by_node = _by_node(pods)
            ready = {node: pod for node, pod in by_node.items() if node in wanted and _ready(pod)}
            self.progress("waiting", len(ready), len(wanted))
            if len(ready) == len(wanted) or time.monotonic() > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
        waiting = [node for node in wanted if node not in ready]
        if waiting:
            self._not_ready(waiting, by_node, cluster_nodes)
        return ready

    def _not_ready(self, waiting: list[str], by_node: dict[str, dict], cluster_nodes) -> None:
        namespace = self.plan.namespace
        try:
            nads = self.kube.list(NAD_API_VERSION, NAD_KIND, namespace)
        except KubeError:
            nads = []
        for position, node in enumerate(waiting):
            pod = by_node.get(node)
            if pod is None:
                self.extra.append(finding(
                    "PROBE_NOT_READY", ERROR,
                    f"No probe pod was created on {node} within "
                    f"{settings.VALIDATION_READY_SECONDS} s: the DaemonSet does not admit it "
                    "(a taint the probe does not tolerate, or the plan's nodeSelector).",
                    f"Check {node}'s taints and labels (`kubectl describe node {node}`).",
                    node=node,
                ))  # fmt: skip
                continue
            events = []
            if position < DIAGNOSED_PODS:
                name = pod["metadata"]["name"]
                try:
                    events = self.kube.events(
                        namespace, field_selector=f"involvedObject.name={name}"
                    )
                except KubeError:
                    events = []
            found = diagnosis.diagnose(pod, events, plan=self.plan, nodes=cluster_nodes, nads=nads)
            causes = [f for f in found if f.severity in ("error", "warning")] or found
            phase = (pod.get("status") or {}).get("phase") or "Pending"
            if causes:
                top = causes[0]
                message = (
                    f"The probe on {node} is not Ready ({phase}) after "
                    f"{settings.VALIDATION_READY_SECONDS} s: {top.code}: {top.message}"
                )
                fix = top.fix
                evidence = "; ".join(
                    f"{f.code}: {getattr(f, 'evidence', '') or f.message}" for f in causes[:3]
                )
            else:
                message = f"The probe on {node} is not Ready ({phase}) after {settings.VALIDATION_READY_SECONDS} s."
                fix = f"`kubectl describe pod -n {namespace} {pod['metadata']['name']}` shows why."
                evidence = ""
            self.extra.append(
                finding("PROBE_NOT_READY", ERROR, message, fix, node=node, evidence=evidence[:600])
            )

    def _endpoints(self) -> dict[int, dict[int, RailEndpoint]]:
        namespace = self.plan.namespace
        endpoints: dict[int, dict[int, RailEndpoint]] = {}
        for index, node in enumerate(self.nodes):
            pod = self.pods[node]
            annotation = (pod["metadata"].get("annotations") or {}).get(
                inspect.NETWORK_STATUS_ANNOTATION
            )
            entries = {e["name"]: e for e in inspect.parse_network_status(annotation, namespace)}
            found = {}
            for position, rail in enumerate(self.rails):
                entry = entries.get(f"{namespace}/{rail.nad_name}")
                try:
                    if entry is None or not entry["ips"]:
                        raise commands.UnsafeValue("no address in the pod's network-status")
                    rdma = (entry.get("device_info") or {}).get("rdma_device")
                    found[rail.index] = RailEndpoint(
                        rail=rail.index,
                        interface=commands.ifname(entry["interface"] or rail.interface_name),
                        ip=commands.ipv4(entry["ips"][0]),
                        rdma=commands.device(rdma) if rdma else None,
                        gpu=position if self.options.gpudirect else None,
                    )
                except commands.UnsafeValue as error:
                    self.extra.append(finding(
                        "PROBE_NOT_READY", ERROR,
                        f"The probe on {node} has no usable attachment to rail {rail.index} "
                        f"({rail.nad_name}): {error}.",
                        f"Look at the probe pod's network-status annotation and Multus events "
                        f"(`kubectl describe pod -n {namespace} {pod['metadata']['name']}`).",
                        rail=rail.index, node=node,
                    ))  # fmt: skip
            endpoints[index] = found
        return endpoints

    def _exec(self, phase: str, jobs: list[tuple[int, ExecJob]]):
        """Run (node index, job) pairs; yields (position in jobs, output or None, error)."""
        self.progress(phase, 0, len(jobs), force=True)
        finished = self.kube.exec_many([job for _, job in jobs], self.parallel)
        for done, (position, output, error) in enumerate(finished, start=1):
            index, job = jobs[position]
            self.stats.count(job, output)
            self.progress(phase, done, len(jobs))
            if error is not None:
                self.extra.append(finding(
                    "PROBE_EXEC_FAILED", WARNING,
                    f"The {phase} commands could not run on {self.nodes[index]}: {error}.",
                    "Rail Studio needs create on pods/exec in the plan's namespace; check the "
                    "API server's reachability and the probe pod.",
                    node=self.nodes[index],
                ))  # fmt: skip
            yield position, output, error

    def _run_jobs(self, phase: str, jobs: list[tuple[int, ExecJob, object]]) -> None:
        """Run (node index, job, handler) triples; a handler gets (node index, output) for
        each exec that ran."""
        for position, output, error in self._exec(phase, [(i, job) for i, job, _ in jobs]):
            index, _, handler = jobs[position]
            if error is None:
                handler(index, output)

    def _job(self, index: int, command: list[str], container: str, timeout: float) -> ExecJob:
        pod = self.pods[self.nodes[index]]
        return ExecJob(self.plan.namespace, pod["metadata"]["name"], command, container, timeout)

    # The node agents -----------------------------------------------------------------------

    def _agent_jobs(self) -> list[tuple[int, ExecJob, object]]:
        return [
            (i, self._job(i, commands.AGENT_COMMAND, probe.AGENT_CONTAINER, 30), self._agent_read)
            for i in range(len(self.nodes))
        ]

    def _agent_read(self, index: int, output) -> None:
        report = parsers.agent(output[0], output[2])
        if report.error:
            self.unavailable.append((self.nodes[index], report.error))
        if not report.netdevs:
            return
        pod = self.pods[self.nodes[index]]["metadata"]
        devices = parsers.pod_devices(report, pod["namespace"], pod["name"])
        gpus = devices.get(GPU_RESOURCE, [])
        for rail, endpoint in self.endpoints[index].items():
            netdev = report.netdevs.get(endpoint.interface) or {}
            gpu_numa = None
            if endpoint.gpu is not None and endpoint.gpu < len(gpus) and gpus[endpoint.gpu][1]:
                gpu_numa = gpus[endpoint.gpu][1][0]
            speed, mtu, numa = netdev.get("speed_mbps"), netdev.get("mtu"), netdev.get("numa_node")
            self.facts[(index, rail)] = RailFacts(
                interface=endpoint.interface,
                operstate=netdev.get("operstate"),
                speed_gbps=speed / 1000 if isinstance(speed, int) else None,
                mtu=mtu if isinstance(mtu, int) else None,
                vf_pci=netdev.get("pci"),
                pf_pci=netdev.get("pf_pci"),
                vf_numa=numa if isinstance(numa, int) else None,
                gpu_numa=gpu_numa,
                gpu=endpoint.gpu if gpus else None,
            )

    def _agents_done(self) -> None:
        if not self.unavailable:
            return
        names = ", ".join(f"{node} ({reason})" for node, reason in self.unavailable[:5])
        self.extra.append(finding(
            "AGENT_UNAVAILABLE", WARNING,
            f"The node agent gave no full report on {len(self.unavailable)} node(s): {names}; "
            "link state, speed and NUMA causes cannot be named there.",
            "Set VALIDATION_AGENT_IMAGE to an image built from this repository, and allow "
            "the probe's hostPath mount of /var/lib/kubelet/pod-resources.",
        ))  # fmt: skip

    # The ICMP sweep ------------------------------------------------------------------------

    def _rail_mtu(self, rail: int) -> int:
        mtus = [f.mtu for (i, r), f in self.facts.items() if r == rail and f.mtu]
        return findings.most_common(mtus) or self.plan.mtu or 9000

    def _sweep_jobs(self) -> list[tuple[int, ExecJob, object]]:
        count = len(self.nodes)
        strict = self.validation.mode == "strict"
        server_timeout = self._server_timeout()
        jobs = []
        for index in range(count):
            sweep = Sweep()
            own = self.endpoints[index]
            successor = (index + 1) % count
            for rail in own:
                targets = [
                    self.endpoints[j][rail].ip
                    for j in schedule.icmp_targets(count, index)
                    if rail in self.endpoints[j]
                ]
                if targets:
                    sweep.icmp[rail] = targets
                    if strict:
                        sweep.mtu[rail] = (self._rail_mtu(rail) - 28, targets)
                other = schedule.cross_rail_target(len(self.rails), self._position(rail))
                if strict and other is not None and count > 1:
                    other_rail = self.rails[other].index
                    if other_rail in self.endpoints[successor]:
                        sweep.cross[rail] = [self.endpoints[successor][other_rail].ip]
            servers = list(own.values()) if self.rounds else None
            command = commands.sweep_command(own, sweep, self.options, servers, server_timeout)
            timeout = commands.sweep_seconds(sweep, self.options)
            job = self._job(index, command, probe.PROBE_CONTAINER, timeout)
            jobs.append((index, job, self._sweep_read))
        self._addresses = {
            rail.index: {
                endpoints[rail.index].ip: j
                for j, endpoints in self.endpoints.items()
                if rail.index in endpoints
            }
            for rail in self.rails
        }
        return jobs

    def _position(self, rail: int) -> int:
        return next(p for p, spec in enumerate(self.rails) if spec.index == rail)

    def _sweep_read(self, index: int, output) -> None:
        self._tool_missing(index, output, "ping")
        for section in parsers.sections(output[0]):
            if not section.args or not section.args[0].isdigit():
                continue
            rail = int(section.args[0])
            summaries = parsers.ping_summaries(section.text)
            index_of = self._addresses.get(rail, {})
            if section.kind == "icmp":
                found = self.icmp[rail]
                for ip, result in summaries.items():
                    if ip in index_of:
                        found[(index, index_of[ip])] = result
            elif section.kind == "mtu" and len(section.args) >= 3:
                _, found = self.mtu.setdefault(rail, (int(section.args[2]), {}))
                for ip, result in summaries.items():
                    if ip in index_of:
                        found[(index, index_of[ip])] = result
            elif section.kind == "cross":
                other = schedule.cross_rail_target(len(self.rails), self._position(rail))
                for ip, result in summaries.items():
                    self.cross[rail].append({
                        "node": self.nodes[index], "target": ip,
                        "target_rail": self.rails[other].index if other is not None else None,
                        "reached": result.received > 0,
                    })  # fmt: skip

    def _server_timeout(self) -> int:
        """How long background RDMA servers listen: long enough for every node's clients,
        however many execs run at once."""
        batches = math.ceil(len(self.nodes) / self.parallel)
        per_batch = commands.clients_seconds(len(self.rails), self.options) + 10
        sweep = (
            commands.sweep_seconds(Sweep(icmp={0: ["0.0.0.0"] * len(self.nodes)}), self.options)
            * len(self.rails)
            * (3 if self.validation.mode == "strict" else 1)
        )
        return int(min(3600, batches * (per_batch + sweep) + 60))

    def _tool_missing(self, index: int, output, tool: str) -> None:
        stderr = output[1]
        if f"{tool}: not found" in stderr or "executable file not found" in stderr:
            self.extra.append(finding(
                "PROBE_TOOL_MISSING", ERROR,
                f"The probe image has no `{tool}` ({settings.VALIDATION_PROBE_IMAGE} on "
                f"{self.nodes[index]}).",
                "Set VALIDATION_PROBE_IMAGE to an image with iputils, perftest, "
                "librdmacm-utils and mlnx-tools.",
                node=self.nodes[index],
            ))  # fmt: skip

    def _rdma_round(self, offset: int, servers_started: bool) -> None:
        count = len(self.nodes)
        if not servers_started:
            timeout = self._server_timeout()
            jobs = [
                (
                    i,
                    self._job(
                        i,
                        commands.servers_command(
                            list(self.endpoints[i].values()), self.options, timeout
                        ),
                        probe.PROBE_CONTAINER,
                        30,
                    ),
                )
                for i in range(count)
                if self.endpoints[i]
            ]
            for _ in self._exec("rdma", jobs):
                pass  # the servers run in the background
        jobs = []
        for client, server in schedule.rdma_pairs(count, offset):
            pairs = [
                (endpoint, self.endpoints[server][rail].ip)
                for rail, endpoint in sorted(self.endpoints[client].items())
                if rail in self.endpoints[server]
                and endpoint.rdma
                and self.endpoints[server][rail].rdma
            ]
            if pairs:
                command = commands.clients_command(pairs, self.options)
                timeout = commands.clients_seconds(len(pairs), self.options)
                jobs.append((client, self._job(client, command, probe.PROBE_CONTAINER, timeout)))
        peers = dict(schedule.rdma_pairs(count, offset))
        for position, output, error in self._exec("rdma", jobs):
            if error is not None:
                continue
            index = jobs[position][0]
            rping: dict[int, tuple[bool, str]] = {}
            for section in parsers.sections(output[0]):
                if not section.args or not section.args[0].isdigit():
                    continue
                rail = int(section.args[0])
                if section.kind == "rping":
                    rping[rail] = parsers.rping(section.text, section.exit_code)
                elif section.kind == "bw":
                    bandwidth = parsers.ib_write_bw(section.text, section.exit_code)
                    ok, detail = rping.get(rail, (None, ""))
                    self.rdma[rail].append(
                        results.RdmaTest(index, peers[index], ok, detail, bandwidth)
                    )
                    if "not installed" in bandwidth.error:
                        self._tool_missing(
                            index, (output[0], "ib_write_bw: not found", 127), "ib_write_bw"
                        )

    def _qos(self) -> dict[tuple[int, int], parsers.QosState]:
        implicated: dict[int, set[int]] = defaultdict(set)
        for rail, tests in self.rdma.items():
            for test in tests:
                if test.bandwidth is None or test.bandwidth.gbps is None:
                    pair = (test.client, test.server)
                    result = self.icmp[rail].get(pair) or self.icmp[rail].get(pair[::-1])
                    if result is None or result.received == 0:
                        continue  # unreachable: the link explains it
                    implicated[test.client].add(rail)
                    implicated[test.server].add(rail)
        jobs = []
        for index in sorted(implicated)[:QOS_NODES]:
            endpoints = [self.endpoints[index][rail] for rail in sorted(implicated[index])]
            jobs.append(
                (
                    index,
                    self._job(index, commands.qos_command(endpoints), probe.PROBE_CONTAINER, 30),
                )
            )
        states = {}
        for position, output, error in self._exec("qos", jobs):
            if error is not None:
                continue
            index = jobs[position][0]
            for section in parsers.sections(output[0]):
                if section.kind == "qos" and section.args and section.args[0].isdigit():
                    states[(index, int(section.args[0]))] = parsers.mlnx_qos(
                        section.text, section.exit_code
                    )
        return states

    def _rail_results(self) -> list[dict]:
        count = len(self.nodes)
        rails = []
        for rail in self.rails:
            tests = ["icmp"]
            if self.rounds:
                tests += ["rping", "ib_write_bw"]
            if rail.index in self.mtu:
                tests.append("mtu")
            if self.cross.get(rail.index):
                tests.append("cross_rail")
            rails.append(results.rail_data(
                rail=rail.index, nad=rail.nad_name, interface=rail.interface_name,
                subnet=rail.subnet, tests=tests,
                addresses=[self.endpoints[i][rail.index].ip if rail.index in self.endpoints[i] else None for i in range(count)],
                icmp=self.icmp.get(rail.index, {}), rdma=self.rdma.get(rail.index, []),
                mtu=self.mtu.get(rail.index), cross=self.cross.get(rail.index),
            ))  # fmt: skip
        return rails

    def _summary(self, tally: dict, rails: list[dict]) -> dict:
        count = len(self.nodes)
        summary = {
            "passed": tally["error"] == 0 and tally["warning"] == 0,
            "counts": tally,
            "nodes": count,
            "rails": len(rails),
            "pairs": sum(len(self.icmp.get(r.index, {})) for r in self.rails),
            "rdma_tests": sum(len(self.rdma.get(r.index, [])) for r in self.rails),
            "rounds": len(self.rounds),
            "execs": self.stats.execs,
            "bytes_sent": self.stats.bytes_sent,
            "bytes_received": self.stats.bytes_received,
            "seconds": self.stats.seconds,
        }
        summary["order"] = heatmap.node_order(self.nodes, rails)
        return summary

    def _store(self) -> None:
        validation = self.validation
        count = len(self.nodes)
        rails = self._rail_results()
        found = findings.sort_findings(
            self.extra + findings.derive(self.nodes, rails, self.facts, self.qos)
        )
        tally = findings.counts(found)
        self.stats.seconds["analysis"] = round(time.monotonic() - self._phase_started, 3)
        summary = self._summary(tally, rails)
        facts = {
            self.nodes[i]: {str(rail): vars(f) for (j, rail), f in self.facts.items() if j == i}
            for i in range(count)
        }
        with transaction.atomic():
            running = Validation.objects.select_for_update().filter(
                pk=validation.pk, state=ValidationState.RUNNING
            )
            if not running.exists():
                raise Lost()
            validation.rails.all().delete()
            ValidationRail.objects.bulk_create(
                [
                    ValidationRail(
                        validation=validation, rail=data["rail"], data=data,
                        summary=compare.rail_summary(data),
                    )
                    for data in rails
                ]
            )  # fmt: skip
            validation.nodes = self.nodes
            validation.findings = found
            validation.summary = summary
            validation.facts = facts
            validation.state = ValidationState.SUCCEEDED
            validation.progress = {
                "phase": "done",
                "label": "Done",
                "done": 1,
                "total": 1,
                "percent": 100,
            }
            errors, warnings = tally["error"], tally["warning"]
            validation.message = (
                f"All {len(rails)} rails carry traffic between all {count} nodes."
                if summary["passed"]
                else f"{errors} error(s) and {warnings} warning(s) on {count} node(s)."
            )
            validation.finished_at = timezone.now()
            validation.save(
                update_fields=["nodes", "findings", "summary", "facts", "state", "progress",
                               "message", "finished_at"]
            )  # fmt: skip

    def cleanup(self) -> None:
        if not self.deployed or self.validation.keep_probe or self.kube is None:
            return
        try:
            self.kube.delete(
                "apps/v1", "DaemonSet", probe.name_for(self.validation.pk), self.plan.namespace
            )
        except KubeError as error:
            note = f" The probe DaemonSet could not be removed: {error}"
            Validation.objects.filter(pk=self.validation.pk).update(
                message=self.validation.message + note
            )


def _pinned_node(pod: dict) -> str | None:
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in affinity.get("nodeSelectorTerms") or []:
        for requirement in term.get("matchFields") or []:
            values = requirement.get("values") or []
            if requirement.get("key") == "metadata.name" and len(values) == 1:
                return values[0]
    return None


def _by_node(pods: list[dict]) -> dict[str, dict]:
    by_node = {}
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        node = _pinned_node(pod)
        if node:
            by_node[node] = pod
    return by_node


def _ready(pod: dict) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )
