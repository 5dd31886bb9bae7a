"""What a write means: defaulting, validation, preconditions, generation, managedFields, dryRun.

API handlers and the simulated controllers both write through ObjectService, so objects
look the same whoever changed them.
"""

import copy
import json
from collections.abc import Callable

from labsim.defaults import admit, apply_defaults, zero_object
from labsim.managed_fields import ManagedFields
from labsim.meta import drop_empty_metadata, name_suffix, new_uid, now_rfc3339, ordered_object
from labsim.patching import json_patch, merge_patch, strategic_merge_patch
from labsim.resources import Registry, ResourceType
from labsim.status import (
    ApiError,
    already_exists,
    bad_request,
    not_found,
    stale_conflict,
    success,
    unsupported_media_type,
)
from labsim.store import Entry, Store
from labsim.validation import validate

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"

DeleteHook = Callable[[ResourceType, Entry, int | None], dict]


class ObjectService:
    def __init__(self, store: Store, registry: Registry):
        self.store = store
        self.registry = registry
        self.namespaces = registry.by_key("", "namespaces")
        self.delete_hooks: dict[tuple, DeleteHook] = {}
        # What the registry does to a new object after admission (a Service's cluster IP).
        self.create_hooks: dict[tuple, Callable[[dict, bool], None]] = {}

    # Reads -------------------------------------------------------------------------------

    def get(self, resource: ResourceType, namespace: str, name: str) -> Entry:
        entry = self.store.get(resource, namespace if resource.namespaced else "", name)
        if entry is None:
            raise not_found(resource, name)
        return entry

    # Create ------------------------------------------------------------------------------

    def create(
        self,
        resource: ResourceType,
        namespace: str,
        body: dict,
        manager: str,
        dry_run: bool = False,
    ) -> Entry:
        obj = copy.deepcopy(body)
        self._check_identity(resource, obj, namespace)
        metadata = obj.setdefault("metadata", {})
        if metadata.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        if resource.namespaced:
            self._check_namespace_accepts(resource, namespace, metadata.get("name", ""))
        drop_empty_metadata(metadata)
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + name_suffix()
        for key in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "generation",
            "selfLink",
        ):
            metadata.pop(key, None)
        if "status" in resource.subresources:
            obj.pop("status", None)
        obj = validate(resource, apply_defaults(resource, obj))
        fields = ManagedFields([])
        fields.record_update(
            None,
            obj,
            manager,
            resource.api_version,
            skip_status="status" in resource.subresources,
            zero=zero_object(resource),
        )
        obj = admit(resource, obj)
        metadata = obj["metadata"]
        if self.store.get(resource, namespace if resource.namespaced else "", metadata["name"]):
            raise already_exists(resource, metadata["name"])
        if resource.key in self.create_hooks:
            self.create_hooks[resource.key](obj, dry_run)
        metadata["uid"] = new_uid()
        metadata["creationTimestamp"] = now_rfc3339()
        if resource.has_generation or not resource.builtin:
            metadata["generation"] = 1
        metadata["managedFields"] = fields.render()
        if dry_run:
            return Entry(ordered_object(obj, resource.kind, resource.api_version), resource.builtin)
        return self.store.put(resource, obj)

    def create_from_apply(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        applied: dict,
        manager: str,
        dry_run: bool,
    ) -> Entry:
        obj = copy.deepcopy(applied)
        obj.setdefault("metadata", {})["name"] = name
        if resource.namespaced:
            self._check_namespace_accepts(resource, namespace, name)
        obj.pop("status", None)
        obj = admit(resource, apply_defaults(resource, obj))
        obj = validate(resource, obj)
        metadata = obj["metadata"]
        if resource.key in self.create_hooks:
            self.create_hooks[resource.key](obj, dry_run)
        if resource.namespaced:
            metadata["namespace"] = namespace
        metadata["uid"] = new_uid()
        metadata["creationTimestamp"] = now_rfc3339()
        if resource.has_generation or not resource.builtin:
            metadata["generation"] = 1
        fields = ManagedFields([])
        fields.apply(
            {},
            applied,
            manager,
            resource.api_version,
            True,
            skip_status="status" in resource.subresources,
        )
        metadata["managedFields"] = fields.render()
        if dry_run:
            return Entry(ordered_object(obj, resource.kind, resource.api_version), resource.builtin)
        return self.store.put(resource, obj)

    # Update ------------------------------------------------------------------------------

    def replace(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        body: dict,
        manager: str,
        subresource: str = "",
        dry_run: bool = False,
    ) -> Entry:
        current = self.get(resource, namespace, name)
        obj = copy.deepcopy(body)
        self._check_identity(resource, obj, namespace)
        body_name = (obj.get("metadata") or {}).get("name")
        if body_name != name:
            raise bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        wanted = obj["metadata"].get("resourceVersion")
        if wanted and wanted != current.obj["metadata"]["resourceVersion"]:
            raise stale_conflict(resource, name)
        return self._commit_update(resource, current, obj, manager, subresource, dry_run)

    def patch(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        patch,
        manager: str | None,
        subresource: str = "",
        dry_run: bool = False,
        force: bool = False,
    ) -> tuple[Entry, bool]:
        """Returns the object and whether server-side apply created it."""
        accepted = (
            [JSON_PATCH, MERGE, APPLY]
            if not resource.builtin
            else [JSON_PATCH, MERGE, STRATEGIC, APPLY]
        )
        if content_type not in accepted:
            raise unsupported_media_type(accepted)
        if content_type == APPLY:
            return self._apply(
                resource, namespace, name, patch, manager, subresource, dry_run, force
            )
        current = self.get(resource, namespace, name)
        base = current.obj
        if content_type == JSON_PATCH:
            merged = json_patch(base, patch)
        else:
            if not isinstance(patch, dict):
                raise bad_request("the body of the request is not a JSON object")
            patcher = merge_patch if content_type == MERGE else strategic_merge_patch
            merged = patcher(base, patch)
        wanted = ((patch if isinstance(patch, dict) else {}).get("metadata") or {}).get(
            "resourceVersion"
        )
        if wanted and wanted != base["metadata"]["resourceVersion"]:
            raise stale_conflict(resource, name)
        merged = copy.deepcopy(merged)
        merged.setdefault("metadata", {})["name"] = name
        return self._commit_update(
            resource, current, merged, manager or "unknown", subresource, dry_run
        ), False

    def _apply(self, resource, namespace, name, applied, manager, subresource, dry_run, force):
        if not manager:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                "required for apply patch",
                {
                    "group": "meta.k8s.io",
                    "kind": "PatchOptions",
                    "causes": [
                        {
                            "reason": "FieldValueRequired",
                            "message": "Required value: is required for apply patch",
                            "field": "fieldManager",
                        }
                    ],
                },
            )
        if not isinstance(applied, dict):
            raise bad_request("error decoding YAML: the apply patch must be an object")
        self._check_apply_identity(resource, applied, namespace, name)
        current = self.store.get(resource, namespace if resource.namespaced else "", name)
        if current is None:
            if subresource:
                raise not_found(resource, name)
            return self.create_from_apply(
                resource, namespace, name, applied, manager, dry_run
            ), True
        fields = ManagedFields(current.obj["metadata"].get("managedFields"))
        if not fields.entries:
            # An object nobody's fields are recorded for: what it has belongs to
            # "before-first-apply", so the first apply can tell its own fields from others'.
            fields.record_existing(current.obj, resource.api_version)
        skip_status = "status" in resource.subresources and not subresource
        merged = fields.apply(
            current.obj, applied, manager, resource.api_version, force, skip_status
        )
        merged["metadata"]["managedFields"] = fields.render()
        entry = self._commit_update(resource, current, merged, None, subresource, dry_run)
        return entry, False

    def _commit_update(
        self,
        resource,
        current: Entry,
        obj: dict,
        manager: str | None,
        subresource: str,
        dry_run: bool,
    ) -> Entry:
        old = current.obj
        metadata = obj.setdefault("metadata", {})
        drop_empty_metadata(metadata)
        if subresource == "status":
            keep_spec = {k: v for k, v in old.items() if k not in ("metadata", "status")}
            obj = {**{k: v for k, v in obj.items() if k in ("metadata", "status")}, **keep_spec}
            metadata = obj["metadata"]
            metadata["ownerReferences"] = old["metadata"].get("ownerReferences")
            if metadata["ownerReferences"] is None:
                metadata.pop("ownerReferences")
        elif "status" in resource.subresources:
            if "status" in old:
                obj["status"] = old["status"]
            else:
                obj.pop("status", None)
        if resource.namespaced:
            metadata["namespace"] = old["metadata"]["namespace"]
        for key in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if key in old["metadata"]:
                metadata[key] = old["metadata"][key]
            else:
                metadata.pop(key, None)
        metadata["resourceVersion"] = old["metadata"]["resourceVersion"]
        obj = apply_defaults(resource, obj)
        obj = validate(
            resource, obj, old if resource.plural == "pods" and not subresource else None
        )
        if "generation" in metadata and _spec_changed(old, obj):
            metadata["generation"] = old["metadata"].get("generation", 1) + 1
        if manager is not None:
            fields = ManagedFields(old["metadata"].get("managedFields"))
            fields.record_update(
                old,
                obj,
                manager,
                resource.api_version,
                subresource,
                skip_status="status" in resource.subresources and not subresource,
            )
            metadata["managedFields"] = fields.render()
        if _same_object(old, obj):
            return current
        if (
            old["metadata"].get("deletionTimestamp")
            and not metadata.get("finalizers")
            and (resource.plural != "namespaces")
        ):
            if dry_run:
                return Entry(
                    ordered_object(obj, resource.kind, resource.api_version), resource.builtin
                )
            return self.store.remove(resource, current.namespace, current.name)
        if dry_run:
            return Entry(ordered_object(obj, resource.kind, resource.api_version), resource.builtin)
        return self.store.put(resource, obj)

    def write(
        self, resource: ResourceType, obj: dict, manager: str, subresource: str = "status"
    ) -> Entry:
        """A controller's write: record its managedFields and store, skipping no-op writes."""
        metadata = obj["metadata"]
        current = self.store.get(resource, metadata.get("namespace", ""), metadata["name"])
        if current is not None:
            if _same_object(current.obj, obj):
                return current
            fields = ManagedFields(current.obj["metadata"].get("managedFields"))
            fields.record_update(current.obj, obj, manager, resource.api_version, subresource)
            metadata["managedFields"] = fields.render()
        return self.store.put(resource, obj)

    # Delete ------------------------------------------------------------------------------

    def delete(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        grace_seconds: int | None = None,
        preconditions: dict | None = None,
        dry_run: bool = False,
    ) -> dict:
        current = self.get(resource, namespace, name)
        _check_preconditions(resource, current, preconditions or {})
        hook = self.delete_hooks.get(resource.key)
        if dry_run:
            return current.obj if hook else success(name, resource, current.obj["metadata"]["uid"])
        if hook:
            return hook(resource, current, grace_seconds)
        if current.obj["metadata"].get("finalizers"):
            if current.obj["metadata"].get("deletionTimestamp"):
                return current.obj
            obj = _copy_with_metadata(current.obj)
            obj["metadata"]["deletionTimestamp"] = now_rfc3339()
            obj["metadata"]["deletionGracePeriodSeconds"] = 0
            return self.store.put(resource, obj).obj
        self.store.remove(resource, current.namespace, current.name)
        return success(name, resource, current.obj["metadata"]["uid"])

    # Checks ------------------------------------------------------------------------------

    def _check_identity(self, resource: ResourceType, obj: dict, namespace: str) -> None:
        if not isinstance(obj, dict):
            raise bad_request("the body of the request is not a JSON object")
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if api_version and api_version != resource.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({resource.api_version})"
            )
        if kind and kind != resource.kind:
            raise bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})"
            )
        obj["kind"], obj["apiVersion"] = resource.kind, resource.api_version
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise bad_request("metadata must be an object")
        if resource.namespaced:
            body_namespace = metadata.get("namespace")
            if body_namespace and body_namespace != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)

    def _check_apply_identity(self, resource, applied: dict, namespace: str, name: str) -> None:
        if not applied.get("apiVersion") or not applied.get("kind"):
            missing = "Kind" if not applied.get("kind") else "apiVersion"
            raise bad_request(f"Object '{missing}' is missing in '{_short(applied)}'")
        self._check_identity(resource, applied, namespace)
        applied_name = applied["metadata"].get("name")
        if applied_name and applied_name != name:
            raise bad_request(
                f"the name of the object ({applied_name}) does not match the name on the URL "
                f"({name})"
            )

    def _check_namespace_accepts(self, resource: ResourceType, namespace: str, name: str) -> None:
        entry = self.store.get(self.namespaces, "", namespace)
        if entry is None:
            raise not_found(self.namespaces, namespace)
        if (entry.obj.get("status") or {}).get("phase") == "Terminating":
            details = {"name": name}
            if resource.group:
                details["group"] = resource.group
            details["kind"] = resource.plural
            details["causes"] = [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            ]
            raise ApiError(
                403,
                "Forbidden",
                f'{resource.qualified_name} "{name}" is forbidden: unable to create new content '
                f"in namespace {namespace} because it is being terminated",
                details,
            )


def _check_preconditions(resource, current: Entry, preconditions: dict) -> None:
    metadata = current.obj["metadata"]
    checks = (
        ("uid", "UID", "The object might have been deleted and then recreated"),
        ("resourceVersion", "ResourceVersion", "The object might have been modified"),
    )
    for key, label, hint in checks:
        wanted = preconditions.get(key)
        if wanted and wanted != metadata[key]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {resource.kind} "{metadata["name"]}": the '
                f"{label} in the precondition ({wanted}) does not match the {label} in record "
                f"({metadata[key]}). {hint}",
                {"name": metadata["name"], **({"group": resource.group} if resource.group else {}),
                 "kind": resource.kind},
            )  # fmt: skip


def _spec_changed(old: dict, new: dict) -> bool:
    ignored = ("metadata", "status", "kind", "apiVersion")
    return {k: v for k, v in old.items() if k not in ignored} != {
        k: v for k, v in new.items() if k not in ignored
    }


def _same_object(old: dict, new: dict) -> bool:
    def comparable(obj: dict) -> dict:
        metadata = {
            k: v
            for k, v in obj.get("metadata", {}).items()
            if k not in ("resourceVersion", "managedFields")
        }
        fields = [
            {k: v for k, v in entry.items() if k != "time"}
            for entry in obj.get("metadata", {}).get("managedFields") or []
        ]
        rest = {k: v for k, v in obj.items() if k != "metadata"}
        return {"metadata": metadata, "fields": fields, **rest}

    return comparable(old) == comparable(new)


def _copy_with_metadata(obj: dict) -> dict:
    return {**obj, "metadata": dict(obj["metadata"])}


def _short(obj: dict) -> str:
    text = json.dumps(obj, separators=(",", ":"))
    return text if len(text) < 200 else text[:197] + "..."
