from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import CheckConstraint, F, Q
from django.urls import reverse

from planner import ipam, naming, validation
from planner.planspec import PlanSpec


def _raise(errors: dict[str, list[str]]) -> None:
    """Model.clean's end: planner.validation's errors (the API's words) as Django's."""
    if errors:
        raise ValidationError(errors)


def _values(instance, *names: str) -> dict:
    return {name: getattr(instance, name) for name in names}


def _between(field: str, low: int, high: int, *, nullable: bool = False) -> Q:
    inside = Q(**{f"{field}__gte": low, f"{field}__lte": high})
    return Q(**{f"{field}__isnull": True}) | inside if nullable else inside


class CNIType(models.TextChoices):
    SRIOV = "sriov", "SR-IOV"
    HOST_DEVICE = "host-device", "host-device"
    IB_SRIOV = "ib-sriov", "InfiniBand SR-IOV"
    MACVLAN = "macvlan", "macvlan"


class Plan(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=63, unique=True)
    description = models.TextField(blank=True)
    namespace = models.CharField(max_length=63, default="ai-training")
    rail_count = models.PositiveSmallIntegerField(default=8)
    supernet = models.CharField(max_length=64, blank=True, null=True)
    rail_prefix_length = models.PositiveSmallIntegerField(default=16)
    nad_name_template = models.CharField(max_length=63, default="sriov-rail-{rail}")
    resource_name_template = models.CharField(max_length=253, default="nvidia.com/rail{rail}_vf")
    interface_template = models.CharField(max_length=32, default="net{rail+1}")
    cni_type = models.CharField(max_length=16, choices=CNIType.choices, default=CNIType.SRIOV)
    cni_version = models.CharField(max_length=16, default="0.3.1")
    mtu = models.PositiveIntegerField(blank=True, null=True)
    pod_cidr = models.CharField(max_length=64, default="10.100.0.0/16")
    service_cidr = models.CharField(max_length=64, blank=True, null=True)
    cni_options = models.JSONField(default=dict, blank=True)
    pod_options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    NAME_TEMPLATES = ("nad_name_template", "interface_template")

    class Meta:
        ordering = ["name"]
        # The backstop under the API's checks (planner.validation), for writes that go around
        # them: a queryset update, a shell, a migration.
        constraints = [
            CheckConstraint(
                condition=_between("rail_count", 1, 64),
                name="plan_rail_count_1_to_64",
                violation_error_message="A plan has between 1 and 64 rails.",
            ),
            CheckConstraint(
                condition=_between("rail_prefix_length", 1, 128),
                name="plan_rail_prefix_length_1_to_128",
                violation_error_message="The rail prefix length must be between 1 and 128.",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        """Saved with new name templates, the rails' stored names follow (Rail.refresh_names)."""
        templates = tuple(getattr(self, name) for name in self.NAME_TEMPLATES)
        renamed = getattr(self, "_loaded_templates", templates) != templates
        super().save(*args, **kwargs)
        self._loaded_templates = templates
        if renamed:
            # The rails locked in index order first (planner.locks' order): the UPDATE alone
            # would lock them in the order it finds them, and deadlock with an allocation.
            with transaction.atomic():
                rails = list(
                    self.rails.select_for_update(no_key=True, of=("self",)).order_by("index", "pk")
                )
                for rail in rails:
                    rail.refresh_names(self)
                Rail.objects.bulk_update(rails, ["nad_name", "interface_name"], batch_size=500)

    def get_absolute_url(self):
        return reverse("plan-detail", args=[self.slug])

    def clean(self):
        fields = ("namespace", "pod_cidr", "service_cidr", "rail_count", "rail_prefix_length")
        fields += ("supernet", "nad_name_template", "resource_name_template", "interface_template")
        _raise(validation.plan_errors(_values(self, *fields)))

    @classmethod
    def from_db(cls, db, field_names, values):
        plan = super().from_db(db, field_names, values)
        loaded = dict(zip(field_names, values, strict=True))
        plan._loaded_templates = tuple(loaded.get(name) for name in cls.NAME_TEMPLATES)
        return plan

    def to_spec(self) -> PlanSpec:
        """The plan as plain data for the pure modules (planner.specs reads it as rows);
        planner.plancache.spec keeps it by revision."""
        from planner import specs

        return specs.plan_spec(self)


class RailQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for rail in objs:
            rail.refresh_names()
            rail.refresh_pod_ints()
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        if POD_RANGE_FIELDS & set(fields):
            fields = [*fields, *POD_INT_FIELDS]
            for rail in objs:
                rail.refresh_pod_ints()
        return super().bulk_update(objs, fields, *args, **kwargs)

    def update(self, **kwargs):
        if POD_RANGE_FIELDS & kwargs.keys() and not set(POD_INT_FIELDS) & kwargs.keys():
            # Each row has its own subnet and range: forget the stored ones; save() refills them.
            kwargs.update(dict.fromkeys(POD_INT_FIELDS))
        return super().update(**kwargs)


POD_RANGE_FIELDS = {"subnet", "range_start", "range_end"}
POD_INT_FIELDS = ("pod_first_int", "pod_last_int")


class Rail(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="rails")
    index = models.PositiveSmallIntegerField()
    subnet = models.CharField(max_length=64)
    gateway = models.GenericIPAddressField(blank=True, null=True)
    vlan = models.PositiveSmallIntegerField(blank=True, null=True)
    range_start = models.GenericIPAddressField(blank=True, null=True)
    range_end = models.GenericIPAddressField(blank=True, null=True)
    routes = models.JSONField(default=list, blank=True)
    nad_name_override = models.CharField(max_length=63, blank=True)
    resource_name_override = models.CharField(max_length=253, blank=True)
    interface_name_override = models.CharField(max_length=15, blank=True)
    # The names in effect (the override, else the plan's template), stored so that the database
    # keeps them unique within the plan. save() and bulk_create() fill them in.
    nad_name = models.CharField(max_length=253, editable=False)
    interface_name = models.CharField(max_length=64, editable=False)
    # The pod range's first and last address as integers (IPv4; NULL otherwise), stored so that
    # one statement reads a rail with its free space (planner.freespace.rail_with_first_free,
    # which checks them against the rail's fields). save() and bulk_create() fill them in.
    pod_first_int = models.BigIntegerField(null=True, editable=False)
    pod_last_int = models.BigIntegerField(null=True, editable=False)

    objects = RailQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "index"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "index"], name="rail_unique_index_per_plan"),
            models.UniqueConstraint(fields=["plan", "subnet"], name="rail_unique_subnet_per_plan"),
            models.UniqueConstraint(
                fields=["plan", "nad_name"], name="rail_unique_nad_name_per_plan"
            ),
            models.UniqueConstraint(
                fields=["plan", "interface_name"], name="rail_unique_interface_name_per_plan"
            ),
            CheckConstraint(
                condition=_between("vlan", 0, 4094, nullable=True),
                name="rail_vlan_0_to_4094",
                violation_error_message="A VLAN id is a whole number between 0 and 4094.",
            ),
        ]

    def __str__(self):
        return f"{self.plan.slug} rail {self.index} ({self.subnet})"

    def save(self, *args, **kwargs):
        self.refresh_names()
        self.refresh_pod_ints()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and POD_RANGE_FIELDS & set(update_fields):
            kwargs["update_fields"] = {*update_fields, *POD_INT_FIELDS}
        super().save(*args, **kwargs)

    def pod_ints(self) -> ipam.Span | None:
        """The pod range as integers on an IPv4 rail (ipam.v4_usable_span); None otherwise."""
        return ipam.v4_usable_span(self.subnet, self.range_start, self.range_end)

    def refresh_pod_ints(self) -> None:
        self.pod_first_int, self.pod_last_int = self.pod_ints() or (None, None)

    def clean(self):
        self.refresh_names()
        data = _values(self, "subnet", "gateway", "range_start", "range_end", "vlan", "routes")
        data.update(_values(self, "nad_name", "interface_name", "resource_name"))
        _raise(validation.rail_errors(data))

    def refresh_names(self, plan: Plan | None = None) -> None:
        plan = plan or self.plan
        self.nad_name = self.nad_name_override or naming.render(plan.nad_name_template, self.index)
        self.interface_name = self.interface_name_override or naming.render(
            plan.interface_template, self.index
        )

    @property
    def resource_name(self) -> str:
        return self.resource_name_override or naming.render(
            self.plan.resource_name_template, self.index
        )

    def exclusion_spans(self) -> list[ipam.Span]:
        rows = self.exclusions.order_by().values_list(
            "first_int", "last_int", "first_ip", "last_ip"
        )
        return [
            (first, last) if first is not None else (ipam.ip_to_int(low), ipam.ip_to_int(high))
            for first, last, low, high in rows
        ]

    def host_ip_ints(self) -> list[int]:
        rows = self.nics.order_by().filter(host_ip__isnull=False)
        return [
            number if number is not None else ipam.ip_to_int(ip)
            for number, ip in rows.values_list("host_int", "host_ip")
        ]

    def space(self) -> ipam.RailSpace:
        return ipam.RailSpace.build(
            self.subnet,
            exclusions=self.exclusion_spans(),
            host_ips=self.host_ip_ints(),
            range_start=self.range_start,
            range_end=self.range_end,
        )


class ExclusionPurpose(models.TextChoices):
    INFRASTRUCTURE = "infrastructure", "Infrastructure"
    GATEWAY = "gateway", "Gateway"
    RESERVED = "reserved", "Reserved"
    OTHER = "other", "Other"


class ExclusionQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for exclusion in objs:
            exclusion.fill_bounds()
        return super().bulk_create(objs, *args, **kwargs)


class Exclusion(models.Model):
    """Addresses whereabouts must not hand out: a CIDR, or a start-end range."""

    rail = models.ForeignKey(
        Rail, on_delete=models.CASCADE, related_name="exclusions", db_index=False
    )  # (rail, first_int, last_int) leads with it
    cidr = models.CharField(max_length=64, blank=True, null=True)
    start = models.GenericIPAddressField(blank=True, null=True)
    end = models.GenericIPAddressField(blank=True, null=True)
    purpose = models.CharField(
        max_length=16, choices=ExclusionPurpose.choices, default=ExclusionPurpose.INFRASTRUCTURE
    )
    note = models.CharField(max_length=200, blank=True)
    # Bounds derived from cidr or start/end, kept for fast span arithmetic.
    first_ip = models.GenericIPAddressField(editable=False)
    last_ip = models.GenericIPAddressField(editable=False)
    # The same bounds as integers for IPv4 rails, so the database finds overlaps and free space
    # with an index (planner.freespace); None on IPv6 rails, which take the span path in Python.
    first_int = models.BigIntegerField(null=True, editable=False)
    last_int = models.BigIntegerField(null=True, editable=False)

    objects = ExclusionQuerySet.as_manager()

    BOUND_FIELDS = ("first_ip", "last_ip", "first_int", "last_int")

    class Meta:
        ordering = ["rail", "id"]
        indexes = [
            models.Index(fields=["rail", "first_int", "last_int"], name="exclusion_rail_first_int"),
        ]
        constraints = [
            CheckConstraint(
                condition=(
                    Q(cidr__isnull=False, start__isnull=True, end__isnull=True) & ~Q(cidr="")
                )
                | ((Q(cidr__isnull=True) | Q(cidr="")) & Q(start__isnull=False, end__isnull=False)),
                name="exclusion_cidr_or_range",
                violation_error_message="Give either a CIDR or a start-end range, not both.",
            ),
            CheckConstraint(
                condition=Q(first_int__isnull=True) | Q(first_int__lte=F("last_int")),
                name="exclusion_first_not_after_last",
                violation_error_message="The range ends before it starts.",
            ),
        ]

    def __str__(self):
        return self.display

    def save(self, *args, **kwargs):
        self.fill_bounds()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, *self.BOUND_FIELDS}
        super().save(*args, **kwargs)

    def clean(self):
        subnet = self.rail.subnet if self.rail_id else ""
        _raise(validation.exclusion_errors(_values(self, "cidr", "start", "end"), subnet))

    def fill_bounds(self) -> None:
        first, last = self.span()
        version = 6 if ":" in (self.cidr or self.start or "") else 4
        self.first_ip, self.last_ip = ipam.int_to_ip(first, version), ipam.int_to_ip(last, version)
        self.first_int, self.last_int = (first, last) if version == 4 else (None, None)

    @property
    def display(self) -> str:
        return self.cidr or f"{self.start}-{self.end}"

    def span(self) -> ipam.Span:
        if self.cidr:
            return ipam.span_of(self.cidr)
        return ipam.range_span(self.start, self.end)


class Node(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="nodes")
    name = models.CharField(max_length=253)
    gpu_count = models.PositiveSmallIntegerField(default=8)
    labels = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["plan", "name"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "name"], name="node_unique_per_plan"),
            CheckConstraint(
                condition=_between("gpu_count", 0, 64),
                name="node_gpu_count_0_to_64",
                violation_error_message="The GPU count is a whole number from 0 to 64.",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        _raise(validation.node_errors(_values(self, "name", "gpu_count", "labels")))


class NodeNICQuerySet(models.QuerySet):
    """Every write of host_ip writes host_int with it (the integer the database indexes)."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for nic in objs:
            nic.host_int = ipam.v4_int(nic.host_ip)
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        if "host_ip" in fields:
            fields = [*fields, "host_int"]
            for nic in objs:
                nic.host_int = ipam.v4_int(nic.host_ip)
        return super().bulk_update(objs, fields, *args, **kwargs)

    def update(self, **kwargs):
        if "host_ip" in kwargs and "host_int" not in kwargs:
            value = kwargs["host_ip"]
            if value is not None and not isinstance(value, str):
                raise TypeError("NodeNIC host_ip is updated with an address text or None.")
            kwargs["host_int"] = ipam.v4_int(value)
        return super().update(**kwargs)


class NodeNIC(models.Model):
    # No single-column indexes: (node, rail) and (rail, host_ip) lead with them, and each index
    # fewer is less to write when an allocation addresses a thousand NICs.
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="nics", db_index=False)
    rail = models.ForeignKey(Rail, on_delete=models.CASCADE, related_name="nics", db_index=False)
    pf_name = models.CharField(max_length=15, blank=True)
    pci_address = models.CharField(max_length=16, blank=True)
    numa_node = models.PositiveSmallIntegerField(blank=True, null=True)
    vf_count = models.PositiveSmallIntegerField(default=1)
    rdma_device = models.CharField(max_length=32, blank=True)
    host_ip = models.GenericIPAddressField(blank=True, null=True)
    # host_ip as an integer on IPv4 rails (None on IPv6), what free-space queries sort and search.
    host_int = models.BigIntegerField(null=True, editable=False)

    objects = NodeNICQuerySet.as_manager()

    class Meta:
        ordering = ["node", "rail__index"]
        constraints = [
            models.UniqueConstraint(fields=["node", "rail"], name="nic_one_per_node_and_rail"),
            models.UniqueConstraint(fields=["rail", "host_ip"], name="nic_host_ip_unique_per_rail"),
            CheckConstraint(
                condition=_between("numa_node", 0, validation.MAX_NUMA_NODE, nullable=True),
                name="nic_numa_node_in_range",
                violation_error_message=(
                    f"The NUMA node is a whole number from 0 to {validation.MAX_NUMA_NODE}."
                ),
            ),
            CheckConstraint(
                condition=_between("vf_count", 0, 256),
                name="nic_vf_count_0_to_256",
                violation_error_message="The VF count is a whole number from 0 to 256.",
            ),
        ]
        indexes = [
            models.Index(fields=["rail", "host_int"], name="nic_rail_host_int"),
            # The next NICs to address, in allocation order, without reading the addressed ones.
            models.Index(
                fields=["rail", "node", "id"],
                condition=models.Q(host_ip__isnull=True),
                name="nic_unaddressed",
            ),
        ]

    def __str__(self):
        return f"{self.node.name}/{self.pf_name or self.rail.index}"

    def save(self, *args, **kwargs):
        self.host_int = ipam.v4_int(self.host_ip)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "host_ip" in update_fields:
            kwargs["update_fields"] = {*update_fields, "host_int"}
        super().save(*args, **kwargs)

    def clean(self):
        fields = ("pf_name", "pci_address", "numa_node", "vf_count", "rdma_device", "host_ip")
        subnet = self.rail.subnet if self.rail_id else None
        _raise(validation.nic_errors(_values(self, *fields), subnet))


class PlanChange(models.Model):
    """Written only by database triggers (planner.revisions): a plan's latest committed writes,
    whose tokens make its revision. No foreign key: a plan's deletion records one too."""

    plan_id = models.BigIntegerField(db_index=True)
    token = models.BigIntegerField()

    def __str__(self):
        return f"change {self.token} of plan {self.plan_id}"


class FreeSpaceHint(models.Model):
    """Lower bounds of a rail's free IPv4 addresses (PostgreSQL; planner.freespace): every free
    address of the rail's pod range lies at or above the lowest `low` of the rail's rows; with
    no row, at or above the range's start. An allocation replaces the rows it read with one
    just above the addresses it gave; database triggers (planner.free_hints) add one for every
    address set free. No foreign key: a trigger removes a deleted rail's rows."""

    rail_id = models.BigIntegerField()
    low = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["rail_id", "low"], name="freespacehint_rail_low")]

    def __str__(self):
        return f"rail {self.rail_id} free from {self.low}"


class ImportState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class InventoryImport(models.Model):
    """A node/NIC inventory import run by a worker (planner.import_jobs): its text until it has
    run, then its counts or its errors. Progress while it runs is in the cache."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=16, choices=ImportState.choices, default="queued")
    filename = models.CharField(max_length=255, blank=True)
    text = models.TextField(blank=True)
    total = models.PositiveIntegerField(default=0)  # NIC rows in the file
    done = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"import #{self.pk} into {self.plan_id} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in (ImportState.SUCCEEDED, ImportState.FAILED)
