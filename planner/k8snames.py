"""Kubernetes name rules, as the API server applies them (k8s.io/apimachinery validation).

Every name Rail Studio puts into a Kubernetes URL or object is checked here first: namespaces,
pods, containers, NADs. Each check returns None or a reason naming the value, so serializers,
forms and views give the same words. Pure: no Django, no I/O.
"""

from __future__ import annotations

import re

LABEL_MAX = 63
SUBDOMAIN_MAX = 253
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _shown(value: str) -> str:
    """The value as an error message quotes it: short, and with control characters visible."""
    text = value if len(value) <= 80 else value[:77] + "..."
    return repr(text)[1:-1] if not text.isprintable() else text


def label_error(value, what: str = "name") -> str | None:
    """A DNS-1123 label: namespaces, container names, NAD names, Service names."""
    if not isinstance(value, str) or not value:
        return f"The {what} is empty."
    if len(value) > LABEL_MAX:
        return f"The {what} '{_shown(value)}' is longer than {LABEL_MAX} characters."
    if not _LABEL.match(value):
        return (
            f"The {what} '{_shown(value)}' is not a DNS-1123 label: lower case letters, digits "
            "and '-', starting and ending with a letter or digit."
        )
    return None


def subdomain_error(value, what: str = "name") -> str | None:
    """A DNS-1123 subdomain: pods, most objects' metadata.name."""
    if not isinstance(value, str) or not value:
        return f"The {what} is empty."
    if len(value) > SUBDOMAIN_MAX:
        return f"The {what} '{_shown(value)}' is longer than {SUBDOMAIN_MAX} characters."
    if not _SUBDOMAIN.match(value):
        return (
            f"The {what} '{_shown(value)}' is not a DNS-1123 subdomain: lower case letters, "
            "digits, '-' and '.', each dot-separated part starting and ending with a letter or digit."
        )
    return None


def namespace_error(value) -> str | None:
    return label_error(value, "namespace")


def pod_name_error(value) -> str | None:
    return subdomain_error(value, "pod name")


def container_name_error(value) -> str | None:
    return label_error(value, "container name")


def nad_name_error(value) -> str | None:
    return label_error(value, "NAD name")


def path_segment_error(value) -> str | None:
    """What may never be one segment of an API path, whatever the kind: empty, '.', '..', or
    anything with '/' or '%' (the API server refuses these names for every resource)."""
    if not isinstance(value, str) or value in ("", ".", ".."):
        return f"'{value}' cannot be a name in a Kubernetes API path."
    if "/" in value or "%" in value:
        return f"'{_shown(value)}' may not contain '/' or '%'."
    return None
