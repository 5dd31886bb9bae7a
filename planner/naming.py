"""Name templates: `{rail}` is the rail index; `{rail+1}` / `{rail-1}` shift it (net{rail+1} -> net1)."""

import re

from planner import k8snames

_PLACEHOLDER = re.compile(r"\{rail(?:\s*([+-])\s*(\d+))?\}")
RESOURCE_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9_.-]+$"
)
IFNAMSIZ_MAX = 15


def render(template: str, rail: int) -> str:
    def substitute(match: re.Match) -> str:
        sign, amount = match.group(1), match.group(2)
        if not sign:
            return str(rail)
        return str(rail + int(amount) if sign == "+" else rail - int(amount))

    return _PLACEHOLDER.sub(substitute, template)


def template_error(template: str) -> str | None:
    """Why a template is unusable, or None. Braces other than {rail}, {rail+N}, {rail-N} are errors."""
    leftover = _PLACEHOLDER.sub("", template)
    if "{" in leftover or "}" in leftover:
        return "Only {rail}, {rail+N} and {rail-N} may appear in braces."
    if "{rail" not in template:
        return "The template must contain {rail} so that each rail gets its own name."
    return None


def dns1123_error(name: str) -> str | None:
    """A DNS-1123 label (k8snames holds the rules for every Kubernetes name)."""
    return k8snames.label_error(name)


def interface_error(name: str) -> str | None:
    if not name:
        return "The interface name is empty."
    if len(name) > IFNAMSIZ_MAX:
        return f"'{name}' is longer than {IFNAMSIZ_MAX} characters (the kernel's IFNAMSIZ limit)."
    if name == "eth0":
        return "'eth0' is the pod's control-plane interface; rails need other names."
    if "/" in name or any(ch.isspace() for ch in name):
        return f"'{name}' must not contain '/' or spaces."
    return None


def resource_error(name: str) -> str | None:
    if not RESOURCE_NAME.match(name):
        return f"'{name}' is not a valid extended resource name such as nvidia.com/rail0_vf."
    return None
