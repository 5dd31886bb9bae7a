from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from planner import freespace, ipam, locks, manifests, naming, services, validation
from planner.models import Exclusion, Node, NodeNIC, Plan, Rail
from planner.planspec import PlanSpec
from railstudio import fields

RESERVED_SLUGS = {"new", "import"}  # page and API routes under /plans/


def _raise(errors: dict) -> None:
    if errors:
        raise serializers.ValidationError(errors)


class PlanSerializer(fields.ModelSerializer):
    url = serializers.CharField(source="get_absolute_url", read_only=True)
    slug = fields.StrictSlugField(max_length=63, required=False)
    supernet = fields.CIDRField(max_length=64, required=False, allow_null=True, allow_blank=True)
    pod_cidr = fields.CIDRField(max_length=64, required=False)
    service_cidr = fields.CIDRField(
        max_length=64, required=False, allow_null=True, allow_blank=True
    )
    cni_options = fields.MappingField(required=False)
    pod_options = fields.MappingField(required=False)

    class Meta:
        model = Plan
        fields = [
            "id", "name", "slug", "description", "namespace", "rail_count", "supernet",
            "rail_prefix_length", "nad_name_template", "resource_name_template",
            "interface_template", "cni_type", "cni_version", "mtu", "pod_cidr", "service_cidr",
            "cni_options", "pod_options", "url", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    def validate(self, attrs):
        merged = {**self._current(), **attrs}
        if not merged.get("slug"):
            merged["slug"] = attrs["slug"] = naming_slug(merged.get("name", ""))
        errors = validation.plan_errors(merged)
        slug_error = naming.dns1123_error(merged["slug"]) if merged["slug"] else None
        if not merged["slug"]:
            errors.setdefault("name", []).append("The name needs letters or digits to make a slug.")
        elif slug_error:
            errors.setdefault("slug", []).append(slug_error)
        elif merged["slug"] in RESERVED_SLUGS:
            errors.setdefault("slug", []).append(
                f"'{merged['slug']}' is reserved; choose another slug."
            )
        else:
            others = Plan.objects.exclude(pk=self.instance.pk if self.instance else None)
            if others.filter(slug=merged["slug"]).exists():
                field = "slug" if self.initial_data.get("slug") else "name"
                errors.setdefault(field, []).append(
                    f"The slug '{merged['slug']}' is taken by another plan; choose another {field}."
                )
        errors.update(self._option_errors(merged, attrs))
        if self.instance is not None and not errors:
            errors.update(self._renamed_rail_errors(merged, attrs))
        _raise(errors)
        return attrs

    def _renamed_rail_errors(self, merged: dict, attrs: dict) -> dict:
        """A new name template must give every rail a valid name no other rail has."""
        errors: dict = {}
        rails = list(self.instance.rails.order_by("index"))
        for template_field, override, check in (
            ("nad_name_template", "nad_name_override", naming.dns1123_error),
            ("interface_template", "interface_name_override", naming.interface_error),
        ):
            if template_field not in attrs:
                continue
            seen: dict[str, int] = {}
            for rail in rails:
                name = getattr(rail, override) or naming.render(merged[template_field], rail.index)
                problem = check(name)
                if problem is None and name in seen:
                    problem = f"'{name}' would name both rail {seen[name]} and rail {rail.index}."
                if problem:
                    errors.setdefault(template_field, []).append(f"Rail {rail.index}: {problem}")
                    break
                seen[name] = rail.index
        return errors

    def _option_errors(self, merged: dict, attrs: dict) -> dict:
        """cni_options and pod_options must render: known keys, right types, and a `rails`
        selection naming only rails the plan has (so no render costs more than the plan)."""
        errors: dict = {}
        for field in ("cni_options", "pod_options"):
            if not isinstance(merged.get(field) or {}, dict):
                errors.setdefault(field, []).append("Expected a mapping (an object).")
        if errors:
            return errors
        if "cni_options" in attrs or "cni_type" in attrs:
            spec = PlanSpec(
                name="", slug="", cni_type=merged.get("cni_type") or "sriov",
                cni_options=dict(merged.get("cni_options") or {}),
            )  # fmt: skip
            problems = [
                problem
                for problem in manifests.cni_option_errors(spec)
                if not problem.startswith("cni_type")
            ]
            if problems:
                errors["cni_options"] = problems
        if "pod_options" in attrs:
            if self.instance is not None:
                indexes = set(self.instance.rails.values_list("index", flat=True))
            elif "rail_indexes" in self.context:  # a plan document lists its rails
                indexes = set(self.context["rail_indexes"])
            elif merged.get("supernet"):
                indexes = set(range(merged.get("rail_count") or 0))
            else:
                indexes = set()
            problems = manifests.pod_options_errors(dict(merged.get("pod_options") or {}), indexes)
            if problems:
                errors["pod_options"] = problems
        return errors

    def _current(self) -> dict:
        if self.instance is None:
            return {f.name: f.get_default() for f in Plan._meta.fields if f.has_default()}
        return {
            field: getattr(self.instance, field)
            for field in self.Meta.fields
            if hasattr(self.instance, field)
        }

    def create(self, validated_data):
        return services.create_plan(**validated_data)

    def update(self, instance, validated_data):
        locks.lock_plan(instance.pk)
        return super().update(instance, validated_data)  # Plan.save renames the rails


def naming_slug(name: str) -> str:
    from django.utils.text import slugify

    return slugify(name)[:63].strip("-")


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "dst": {"type": "string", "description": "destination CIDR, of the rail's family"},
                "gw": {"type": "string", "description": "gateway, inside the rail subnet"},
            },
            "required": ["dst"],
            "additionalProperties": False,
        },
    }
)
class RoutesField(serializers.JSONField):
    """CNI routes [{"dst": CIDR, "gw": address}]; their rules are validation.route_errors'."""


class RailSerializer(fields.ModelSerializer):
    subnet = fields.CIDRField(max_length=64)
    nad_name = fields.StrictCharField(max_length=63, required=False, allow_blank=True)
    resource_name = fields.StrictCharField(max_length=253, required=False, allow_blank=True)
    interface_name = fields.StrictCharField(max_length=15, required=False, allow_blank=True)
    routes = RoutesField(required=False)

    class Meta:
        model = Rail
        fields = [
            "id", "plan", "index", "subnet", "gateway", "vlan", "range_start", "range_end",
            "routes", "nad_name", "resource_name", "interface_name",
        ]  # fmt: skip
        validators: list = []  # uniqueness is checked in validate() with a field-named message

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["nad_name"] = instance.nad_name
        data["resource_name"] = instance.resource_name
        data["interface_name"] = instance.interface_name
        return data

    def validate(self, attrs):
        if self.instance and attrs.get("plan") and attrs["plan"] != self.instance.plan:
            raise serializers.ValidationError({"plan": ["A rail cannot move to another plan."]})
        # The plan's rails hold still from here to the write (planner.locks).
        plan = locks.lock_plan((attrs.get("plan") or self.instance.plan).pk)
        index = attrs.get("index", self.instance.index if self.instance else None)
        current = (
            {
                field: getattr(self.instance, field)
                for field in ("subnet", "gateway", "vlan", "range_start", "range_end", "routes")
            }
            if self.instance
            else {}
        )
        merged = {**current, **attrs}
        for field, template in (
            ("nad_name", plan.nad_name_template),
            ("resource_name", plan.resource_name_template),
            ("interface_name", plan.interface_template),
        ):
            override = attrs.get(
                field, getattr(self.instance, f"{field}_override", "") if self.instance else ""
            )
            default = naming.render(template, index) if index is not None else ""
            merged[field] = override or default
            attrs[f"{field}_override"] = "" if override == default else override
            attrs.pop(field, None)
        others = plan.rails.exclude(pk=self.instance.pk if self.instance else None)
        neighbours = [validation.Neighbour(f"rail {r.index}", r.subnet) for r in others]
        neighbours.append(validation.Neighbour("the pod CIDR", plan.pod_cidr))
        if plan.service_cidr:
            neighbours.append(validation.Neighbour("the service CIDR", plan.service_cidr))
        taken = {
            "nad_name": {r.nad_name: f"rail {r.index}" for r in others},
            "interface_name": {r.interface_name: f"rail {r.index}" for r in others},
        }
        errors = validation.rail_errors(merged, neighbours, taken)
        if index is not None and others.filter(index=index).exists():
            errors.setdefault("index", []).append(f"Rail {index} already exists in this plan.")
        if self.instance and {"subnet", "range_start", "range_end"} & attrs.keys() and not errors:
            errors.update(self._contents_outside(merged))
        _raise(errors)
        if "subnet" in attrs:
            attrs["subnet"] = str(ipam.parse_network(attrs["subnet"]))
        if attrs.get("routes") is None and "routes" in attrs:
            attrs["routes"] = []
        return attrs

    def _contents_outside(self, merged: dict) -> dict:
        """Exclusions must stay inside the subnet, host IPs inside the pod range."""
        subnet = merged["subnet"]
        span = ipam.span_of(subnet)
        version = ipam.parse_network(subnet).version
        outside = [
            ex.display
            for ex in self.instance.exclusions.all()
            if not ipam.contains(span, ex.span()) or (":" in ex.first_ip) != (version == 6)
        ]
        usable = ipam.usable_span(subnet, merged.get("range_start"), merged.get("range_end"))
        hosts = [
            ip
            for ip in self.instance.host_ip_ints()
            if usable is None or not usable[0] <= ip <= usable[1]
        ]
        errors = {}
        if outside:
            errors["subnet"] = [f"Exclusions {', '.join(outside[:5])} would fall outside {subnet}."]
        if hosts:
            errors.setdefault("subnet", []).append(
                f"{len(hosts)} NIC host IPs (first {ipam.int_to_ip(min(hosts))}) would fall outside "
                "the pod range; release them first."
            )
        return errors


class ExclusionSerializer(fields.ModelSerializer):
    cidr = fields.CIDRField(max_length=64, required=False, allow_null=True, allow_blank=True)
    # Read locked (planner.locks): callers validate inside the write's transaction, and the
    # rail's exclusions and host IPs hold still from here to the write.
    rail = fields.RowField(Rail, lock=True)

    class Meta:
        model = Exclusion
        fields = ["id", "rail", "cidr", "start", "end", "purpose", "note"]

    def validate(self, attrs):
        target = attrs.get("rail") or self.instance.rail
        if self.instance and target.pk != self.instance.rail_id:
            raise serializers.ValidationError(
                {"rail": ["An exclusion cannot move to another rail; delete it and add a new one."]}
            )
        rail = locks.lock_rail(target.pk) if self.instance else target
        current = (
            {f: getattr(self.instance, f) for f in ("cidr", "start", "end")}
            if self.instance
            else {}
        )
        if attrs.get("cidr") and (attrs.get("start") or attrs.get("end")):
            raise serializers.ValidationError(
                {"cidr": ["Give either a CIDR or a start-end range, not both."]}
            )
        merged = {**current, **attrs}
        if attrs.get("cidr"):
            merged["start"] = merged["end"] = None
        elif "start" in attrs or "end" in attrs:
            merged["cidr"] = None
        errors = validation.exclusion_errors(merged, rail.subnet)
        if not errors:
            span = (
                ipam.span_of(merged["cidr"])
                if merged.get("cidr")
                else ipam.range_span(merged["start"], merged["end"])
            )
            pk = self.instance.pk if self.instance else None
            others = freespace.overlapping(rail, span, exclude_pk=pk)
            errors = validation.exclusion_errors(
                merged, rail.subnet, [(ex.display, ex.span()) for ex in others]
            )
        if not errors:
            count, lowest = freespace.hosts_within(rail, span)
            if count:
                field = "cidr" if merged.get("cidr") else "start"
                version = 4 if freespace.is_v4(rail) else 6
                errors[field] = [
                    f"{count} NIC host IPs lie inside it (first {ipam.int_to_ip(lowest, version)}); release them first."
                ]
        _raise(errors)
        if merged.get("cidr"):
            merged["cidr"] = str(ipam.parse_network(merged["cidr"]))
        attrs["cidr"] = merged.get("cidr") or None
        attrs["start"], attrs["end"] = merged.get("start"), merged.get("end")
        if attrs["cidr"]:
            attrs["start"] = attrs["end"] = None
        return attrs


class NodeSerializer(fields.ModelSerializer):
    labels = fields.StringMapField(required=False)

    class Meta:
        model = Node
        fields = ["id", "plan", "name", "gpu_count", "labels"]
        validators: list = []

    def validate(self, attrs):
        current = (
            {f: getattr(self.instance, f) for f in ("name", "gpu_count", "labels")}
            if self.instance
            else {}
        )
        errors = validation.node_errors({**current, **attrs})
        plan = attrs.get("plan") or self.instance.plan
        name = attrs.get("name")
        if (
            name
            and plan.nodes.exclude(pk=self.instance.pk if self.instance else None)
            .filter(name=name)
            .exists()
        ):
            errors.setdefault("name", []).append(
                f"A node named '{name}' already exists in this plan."
            )
        _raise(errors)
        return attrs


class NodeNICSerializer(fields.ModelSerializer):
    class Meta:
        model = NodeNIC
        fields = [
            "id",
            "node",
            "rail",
            "pf_name",
            "pci_address",
            "numa_node",
            "vf_count",
            "rdma_device",
            "host_ip",
        ]
        validators: list = []

    def validate(self, attrs):
        node = attrs.get("node") or self.instance.node
        target = attrs.get("rail") or self.instance.rail
        # Host IPs of the rail(s) hold still from here to the write (planner.locks).
        rail_ids = {target.pk} | ({self.instance.rail_id} if self.instance else set())
        rail = next(r for r in locks.lock_rails(rail_ids) if r.pk == target.pk)
        current = (
            {
                f: getattr(self.instance, f)
                for f in self.Meta.fields
                if f not in ("node", "rail", "id")
            }
            if self.instance
            else {}
        )
        merged = {**current, **attrs}
        errors = validation.nic_errors(merged, rail.subnet)
        if rail.plan_id != node.plan_id:
            errors.setdefault("rail", []).append("The rail belongs to another plan than the node.")
        others = NodeNIC.objects.exclude(pk=self.instance.pk if self.instance else None)
        if others.filter(node=node, rail=rail).exists():
            errors.setdefault("rail", []).append(
                f"{node.name} already has a NIC on rail {rail.index}."
            )
        host_ip = merged.get("host_ip")
        if host_ip and not errors.get("host_ip") and ("host_ip" in attrs or "rail" in attrs):
            if others.filter(rail=rail, host_ip=host_ip).exists():
                errors.setdefault("host_ip", []).append(
                    f"{host_ip} is already a host IP on rail {rail.index}."
                )
            else:
                usable = ipam.usable_span(rail.subnet, rail.range_start, rail.range_end)
                ip = int(ipam.parse_ip(host_ip))
                inside = [ex.span() for ex in freespace.overlapping(rail, (ip, ip))]
                problem = validation.host_ip_placement_error(
                    host_ip, f"rail {rail.index}", usable, inside
                )
                if problem:
                    errors.setdefault("host_ip", []).append(problem)
        _raise(errors)
        return attrs


class AllocateSerializer(serializers.Serializer):
    count = fields.StrictIntegerField(min_value=1, max_value=100_000)
    nics = serializers.ListField(
        child=fields.StrictIntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=100_000,
    )


class PrefixRequestSerializer(serializers.Serializer):
    prefix_length = fields.StrictIntegerField(min_value=1, max_value=128)
    purpose = fields.StrictChoiceField(
        choices=[c[0] for c in Exclusion._meta.get_field("purpose").choices],
        default="infrastructure",
    )
    note = fields.StrictCharField(max_length=200, required=False, allow_blank=True, default="")
