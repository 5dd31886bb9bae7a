from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from clusters import credentials


class ClusterMode(models.TextChoices):
    NAD = "nad", "NetworkAttachmentDefinitions"
    SRIOV_OPERATOR = "sriov-operator", "SR-IOV Network Operator"


class Cluster(models.Model):
    """A live Kubernetes cluster that plans roll out to."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    in_cluster = models.BooleanField(default=False)
    kubeconfig_encrypted = models.TextField(blank=True, editable=False)
    context = models.CharField(max_length=253, blank=True)
    server = models.CharField(max_length=500, blank=True)
    mode = models.CharField(max_length=20, choices=ClusterMode.choices, default=ClusterMode.NAD)
    is_lab = models.BooleanField(default=False)
    plans = models.ManyToManyField("planner.Plan", related_name="clusters", blank=True)
    # The last connection test.
    reachable = models.BooleanField(null=True)
    server_version = models.CharField(max_length=64, blank=True)
    node_count = models.PositiveIntegerField(null=True, blank=True)
    multus_installed = models.BooleanField(null=True)
    sriov_operator = models.BooleanField(null=True)
    vf_resources = models.JSONField(default=dict, blank=True)
    tested_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # When a task about this cluster (test, discovery, drift) last failed: the panels waiting
    # for that task stop waiting and show last_error.
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Node discovery: what the cluster reports about its nodes and NICs (clusters.discovery).
    discovery = models.JSONField(default=list, blank=True)
    discovered_at = models.DateTimeField(null=True, blank=True)
    # Pod inspection snapshots (clusters.inspect): refreshed on demand and every N seconds.
    inspect_interval_seconds = models.PositiveIntegerField(
        default=60, help_text="0 turns periodic refresh off"
    )
    inspected_at = models.DateTimeField(null=True, blank=True)
    inspect_attempted_at = models.DateTimeField(null=True, blank=True)
    inspect_error = models.TextField(blank=True)
    inspect_summary = models.JSONField(default=dict, blank=True)
    # Drift of live managed objects from the last applied revision.
    drifted = models.BooleanField(default=False)
    drift_diff = models.TextField(blank=True)
    drift_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("operate_cluster", "Can register clusters, roll out and roll back")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("cluster-detail", args=[self.pk])

    def set_kubeconfig(self, text: str) -> None:
        self.kubeconfig_encrypted = credentials.encrypt(text)

    def kubeconfig_text(self) -> str:
        return credentials.decrypt(self.kubeconfig_encrypted) if self.kubeconfig_encrypted else ""


class RolloutState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"
    BLOCKED = "blocked", "Blocked by preflight"
    CANCELLED = "cancelled", "Cancelled"
    INTERRUPTED = "interrupted", "Interrupted (worker lost)"


ACTIVE_STATES = (RolloutState.PENDING, RolloutState.RUNNING)


class Rollout(models.Model):
    """One push of a plan's bundle to one cluster: an audit record, and a revision when it
    changed the cluster.

    A revision is a bundle applied: the plan's revisions on a cluster are numbered 1, 2, 3...
    in the order they changed it. A rollout that changed nothing (every object already matched,
    a dry run, one blocked by preflight or failing before any write) keeps no number and stays
    in the history as the audit record of what was tried."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="rollouts")
    plan = models.ForeignKey(
        "planner.Plan", on_delete=models.SET_NULL, null=True, related_name="rollouts"
    )
    plan_slug = models.SlugField(max_length=63)
    revision = models.PositiveIntegerField(
        null=True, blank=True, help_text="set when the rollout changes the cluster"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=RolloutState.choices, default="pending")
    dry_run = models.BooleanField(default=False)
    prune = models.BooleanField(default=False)
    force = models.BooleanField(default=False)
    force_reason = models.TextField(blank=True)
    rollback_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="rollbacks"
    )
    bundle = models.JSONField(default=list)
    findings = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Take over live objects Rail Studio did not create (never another plan's), with a reason.
    adopt = models.BooleanField(default=False)
    adopt_reason = models.TextField(blank=True)
    # A running rollout's worker writes this every few seconds (clusters.liveness); without it
    # for settings.ROLLOUT_STALE_SECONDS the rollout is interrupted and its cluster unlocked.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster"],
                condition=Q(state__in=["pending", "running"]),
                name="one_active_rollout_per_cluster",
            ),
            models.UniqueConstraint(
                fields=["cluster", "plan_slug", "revision"],
                condition=Q(revision__isnull=False),
                name="one_rollout_per_revision",
            ),
        ]

    def __str__(self):
        return f"{self.plan_slug} {self.revision_label} -> {self.cluster.name} ({self.state})"

    def get_absolute_url(self):
        return reverse("rollout-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def restores_revision(self) -> int | None:
        """The revision a rollback puts back (its own `revision` is the new one it makes)."""
        return self.rollback_of.revision if self.rollback_of_id else None

    @property
    def revision_label(self) -> str:
        """r3; or why there is no number: in progress, dry run, no changes."""
        if self.revision is not None:
            return f"r{self.revision}"
        if self.is_active:
            return "in progress"
        return "dry run" if self.dry_run else "no changes"


class ObjectAction(models.TextChoices):
    CREATE = "create", "Create"
    CHANGE = "change", "Change"
    UNCHANGED = "unchanged", "Unchanged"
    PRUNE = "prune", "Prune"


class ObjectOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLIED = "applied", "Applied"
    DRY_RUN = "dry-run", "Dry-run passed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Not applied: cancelled"
    INTERRUPTED = "interrupted", "Not applied: worker lost"


class RolloutObject(models.Model):
    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    api_version = models.CharField(max_length=100)
    kind = models.CharField(max_length=100)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253)
    action = models.CharField(max_length=12, choices=ObjectAction.choices)
    outcome = models.CharField(max_length=12, choices=ObjectOutcome.choices, default="pending")
    message = models.TextField(blank=True)
    diff = models.TextField(blank=True)

    class Meta:
        ordering = ["rollout", "position"]

    def __str__(self):
        return f"{self.kind} {self.namespace}/{self.name}: {self.action} {self.outcome}"


class PodStatus(models.Model):
    """One pod of the last inspection snapshot of a cluster (its report, and the figures the
    pod list filters on)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="pods")
    namespace = models.CharField(max_length=253)
    name = models.CharField(max_length=253)
    node = models.CharField(max_length=253, blank=True)
    phase = models.CharField(max_length=32, blank=True)
    ok = models.BooleanField(default=True)
    problems = models.PositiveIntegerField(default=0)
    codes = models.CharField(
        max_length=500,
        blank=True,
        help_text="the finding codes as shown (space-separated); filters read PodStatusCode",
    )
    report = models.JSONField(default=dict)
    digest = models.CharField(
        max_length=32, blank=True, help_text="hash of the report: unchanged rows are not rewritten"
    )

    class Meta:
        ordering = ["namespace", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "namespace", "name"], name="one_status_per_pod"
            )
        ]
        indexes = [models.Index(fields=["cluster", "ok"]), models.Index(fields=["cluster", "node"])]

    def __str__(self):
        return f"{self.namespace}/{self.name}"


class PodStatusCode(models.Model):
    """One finding code of a pod in the snapshot (not info), indexed: "the pods with
    NAD_NOT_FOUND" is an index lookup, not a scan of every pod's codes."""

    pod_status = models.ForeignKey(PodStatus, on_delete=models.CASCADE, related_name="code_rows")
    code = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pod_status", "code"], name="one_row_per_pod_code")
        ]
        indexes = [models.Index(fields=["code", "pod_status"], name="pod_code_lookup")]

    def __str__(self):
        return self.code


class ExecRun(models.Model):
    """One allow-listed command run in a pod through the exec API (by a Celery task)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="exec_runs")
    namespace = models.CharField(max_length=253)
    pod = models.CharField(max_length=253)
    container = models.CharField(max_length=253, blank=True)
    command = models.CharField(max_length=100)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    stdout = models.TextField(blank=True)
    stderr = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.command} in {self.namespace}/{self.pod}"

    @property
    def done(self) -> bool:
        return self.finished_at is not None


class ValidationMode(models.TextChoices):
    QUICK = "quick", "Quick: every pair pings, RDMA between ring neighbours"
    FULL = "full", "Full: quick + RDMA between all pairs (up to a bound)"
    STRICT = "strict", "Strict: full + MTU-sized pings with DF and cross-rail isolation"


class ValidationState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


VALIDATION_ACTIVE_STATES = (ValidationState.PENDING, ValidationState.RUNNING)


class Validation(models.Model):
    """One rail validation of a plan's rails on a cluster (clusters.validation): whether every
    rail carries traffic between every pair of nodes, at RDMA line rate. `state` is the run's;
    whether the network passed is in `summary` ("passed") and `findings`."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="validations")
    plan = models.ForeignKey(
        "planner.Plan", on_delete=models.SET_NULL, null=True, related_name="validations"
    )
    plan_slug = models.SlugField(max_length=63)
    mode = models.CharField(max_length=8, choices=ValidationMode.choices)
    requested_nodes = models.JSONField(default=list, blank=True)
    nodes = models.JSONField(default=list, blank=True, help_text="nodes tested, in matrix order")
    state = models.CharField(
        max_length=10, choices=ValidationState.choices, default=ValidationState.PENDING
    )
    progress = models.JSONField(default=dict, blank=True)
    keep_probe = models.BooleanField(default=False)
    cancel_requested = models.BooleanField(default=False)
    scheduled = models.BooleanField(default=False, help_text="started by the cluster's schedule")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # written every few seconds by the worker running it (clusters.validation.liveness)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)
    findings = models.JSONField(default=list, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    facts = models.JSONField(default=dict, blank=True, help_text="per node and rail, the agent's")
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster"],
                condition=Q(state__in=["pending", "running"]),
                name="one_active_validation_per_cluster",
            )
        ]

    def __str__(self):
        return f"validation #{self.pk} {self.plan_slug} on {self.cluster.name} ({self.state})"

    def get_absolute_url(self):
        return reverse("validation-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.state in VALIDATION_ACTIVE_STATES

    @property
    def passed(self) -> bool | None:
        return self.summary.get("passed") if self.state == ValidationState.SUCCEEDED else None


class ValidationRail(models.Model):
    """One rail's results of a validation (clusters.validation.results): its matrices."""

    validation = models.ForeignKey(Validation, on_delete=models.CASCADE, related_name="rails")
    rail = models.PositiveSmallIntegerField()
    data = models.JSONField(default=dict)
    summary = models.JSONField(
        default=dict, blank=True, help_text="the rail's figures without its matrices, for pages"
    )

    class Meta:
        ordering = ["validation", "rail"]
        constraints = [
            models.UniqueConstraint(fields=["validation", "rail"], name="one_result_per_rail")
        ]

    def __str__(self):
        return f"validation #{self.validation_id} rail {self.rail}"


class ValidationSchedule(models.Model):
    """A cluster's periodic validation (Celery beat looks for due ones every minute)."""

    cluster = models.OneToOneField(
        Cluster, on_delete=models.CASCADE, related_name="validation_schedule"
    )
    plan = models.ForeignKey("planner.Plan", on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(
        max_length=8, choices=ValidationMode.choices, default=ValidationMode.QUICK
    )
    interval_minutes = models.PositiveIntegerField(default=24 * 60)
    enabled = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.plan} on {self.cluster} every {self.interval_minutes} min"
