"""Names Kubernetes and the kernel limit: interface names, DNS labels and subdomains, extended
resource names."""

from __future__ import annotations

import re
from collections import Counter

from planner import naming
from planner.findings import Finding, finding
from planner.preflight.reading import DEVICE_PLUGIN_RESOURCE, DNS1123_SUBDOMAIN, IFNAMSIZ_MAX


def ifname_findings(ref: str, field_path: str, names: list[str]) -> list[Finding]:
    found = []
    counts = Counter(names)
    for name in dict.fromkeys(names):
        if len(name) > IFNAMSIZ_MAX:
            found.append(
                finding(
                    "IFNAME_TOO_LONG",
                    ref,
                    field_path,
                    f"The interface name {name!r} has {len(name)} characters; Linux allows 15 "
                    "and Multus rejects it.",
                    "Use a name of at most 15 characters, such as net1 or rail0.",
                )
            )
        if name == "eth0":
            found.append(
                finding(
                    "IFNAME_RESERVED",
                    ref,
                    field_path,
                    "eth0 is the pod's cluster-network interface; a rail cannot take it.",
                    "Name rail interfaces net1..netN (the Multus default) or similar.",
                )
            )
        if "/" in name or any(char.isspace() for char in name):
            found.append(
                finding(
                    "IFNAME_INVALID",
                    ref,
                    field_path,
                    f"The interface name {name!r} contains '/' or whitespace.",
                    "Use letters, digits, '-' and '_' only.",
                )
            )
        if counts[name] > 1:
            found.append(
                finding(
                    "IFNAME_DUPLICATE",
                    ref,
                    field_path,
                    f"{counts[name]} attachments use the interface name {name!r}; the second "
                    "fails to attach.",
                    "Give every attachment its own interface name.",
                )
            )
    return found


def dns_label_finding(ref: str, field_path: str, name: str, what: str) -> Finding | None:
    problem = naming.dns1123_error(name)
    if not problem:
        return None
    return finding(
        "NAME_NOT_DNS1123",
        ref,
        field_path,
        f"The {what} {problem[0].lower()}{problem[1:]}",
        "Use at most 63 lower-case letters, digits and '-', starting and ending with a letter "
        "or digit.",
    )


def dns_subdomain_finding(ref: str, field_path: str, name: str, what: str) -> Finding | None:
    if len(name) <= 253 and DNS1123_SUBDOMAIN.match(name):
        return None
    return finding(
        "NAME_NOT_DNS1123",
        ref,
        field_path,
        f"The {what} {name!r} is not a DNS-1123 subdomain.",
        "Use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit.",
    )


def resource_name_findings(ref: str, field_path: str, resource: str) -> list[Finding]:
    name = resource.rpartition("/")[2]
    if naming.resource_error(resource) or not DEVICE_PLUGIN_RESOURCE.match(name):
        return [
            finding(
                "RESOURCE_NAME_INVALID",
                ref,
                field_path,
                f"{resource!r} is not a device-plugin resource name (prefix/name, the name of "
                "letters, digits, '_' and '-').",
                "Use a name such as nvidia.com/rail0_vf.",
            )
        ]
    if "-" in name:
        upper = re.sub(r"[./]", "_", resource).upper()
        return [
            finding(
                "RESOURCE_NAME_HYPHEN",
                ref,
                field_path,
                f"{resource!r} has a hyphen: the device plugin exports PCIDEVICE_{upper}, "
                "which is not a valid shell variable name.",
                f"Use underscores: {resource.replace('-', '_')}.",
            )
        ]
    return []
