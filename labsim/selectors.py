"""Label and field selectors as the apiserver parses and applies them."""

import re
from collections.abc import Callable
from dataclasses import dataclass

from labsim.status import ApiError, bad_request

_KEY = r"[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET_REQUIREMENT = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EXISTS = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")
_EQUALITY = re.compile(rf"^\s*({_KEY})\s*(==|!=|=)\s*([-A-Za-z0-9_.]*)\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "exists":
            return present
        if self.operator == "!exists":
            return not present
        if self.operator in ("=", "in"):
            return present and value in self.values
        return not present or value not in self.values


def _split_top_level(expression: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in expression:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def parse_label_selector(expression: str | None) -> list[Requirement]:
    if not expression:
        return []
    requirements = []
    for part in _split_top_level(expression):
        if match := _SET_REQUIREMENT.match(part):
            values = tuple(v.strip() for v in match.group(3).split(",") if v.strip())
            requirements.append(Requirement(match.group(1), match.group(2), values))
        elif match := _EQUALITY.match(part):
            operator = "!=" if match.group(2) == "!=" else "="
            requirements.append(Requirement(match.group(1), operator, (match.group(3),)))
        elif match := _EXISTS.match(part):
            operator = "!exists" if match.group(1) else "exists"
            requirements.append(Requirement(match.group(2), operator))
        else:
            raise bad_request(f'unable to parse requirement: found "{part.strip()}"')
    return requirements


def label_matcher(expression: str | None) -> Callable[[dict], bool] | None:
    requirements = parse_label_selector(expression)
    if not requirements:
        return None

    def matches(obj: dict) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in requirements)

    return matches


# Go booleans have no "unset": the API server formats a missing one as "false".
BOOLEAN_FIELDS = {"spec.hostNetwork"}


def field_value(obj: dict, path: str) -> str:
    if path == "source":
        source = obj.get("source") or {}
        return source.get("component", "")
    current = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return ""
        current = current.get(part)
    if current is None:
        return "false" if path in BOOLEAN_FIELDS else ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def field_matcher(expression: str | None, resource) -> Callable[[dict], bool] | None:
    if not expression:
        return None
    terms = []
    supported = ("metadata.name", "metadata.namespace", *resource.field_selectors)
    for part in _split_top_level(expression):
        match = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if not match:
            raise bad_request(f"invalid selector: '{expression}'; can't understand '{part}'")
        key, operator, value = match.groups()
        if key not in supported:
            raise _unsupported_field(key, resource)
        terms.append((key, operator != "!=", value))

    def matches(obj: dict) -> bool:
        return all((field_value(obj, key) == value) == equal for key, equal, value in terms)

    return matches


def _unsupported_field(key: str, resource) -> ApiError:
    if resource.builtin:
        return bad_request(f"field label not supported: {key}")
    return bad_request(
        f'"{key}" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
