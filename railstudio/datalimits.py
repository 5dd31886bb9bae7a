"""Limits on structured input (YAML, JSON) from outside: nesting depth, alias expansion, NULs.

YAML goes through libyaml (which stops at 1,000 levels itself, where PyYAML's pure-Python
loader dies of a RecursionError); then the constructed data is walked once, iteratively, to
check its depth and how many nodes aliases add when expanded (a "billion laughs" document is a
few hundred bytes that expand to 10^9 nodes the moment anything walks or serialises it).
Pure: no Django, no I/O.
"""

from __future__ import annotations

import json

import yaml

MAX_DEPTH = 100
MAX_ALIAS_NODES = 100_000
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LimitError(ValueError):
    """Input over a limit, or not parseable at all; the message says which and why."""


def _children(value):
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    if isinstance(value, list | tuple):
        return value
    return ()


_CONTAINERS = (dict, list, tuple)


def check(data, *, max_depth: int = MAX_DEPTH, max_alias_nodes: int = MAX_ALIAS_NODES) -> None:
    """Raise LimitError when `data` nests deeper than `max_depth`, refers to itself, or when
    shared containers (YAML aliases) add more than `max_alias_nodes` nodes once expanded.

    Each container is visited once (memoised by identity), so the check costs the size of the
    document as written, not as expanded."""
    if not isinstance(data, _CONTAINERS):
        return
    expanded: dict[int, int] = {}  # id(container) -> nodes in its expansion
    height: dict[int, int] = {}  # id(container) -> levels from it down, itself included
    open_: dict[int, tuple[int, list]] = {}  # containers being walked: scalars, containers
    unique = 0
    stack: list[tuple[object, bool]] = [(data, False)]
    while stack:
        value, done = stack.pop()
        key = id(value)
        if done:
            scalars, containers = open_.pop(key)
            size, levels = 1 + scalars, 1
            for child in containers:
                size += expanded[id(child)]
                levels = max(levels, height[id(child)] + 1)
            expanded[key], height[key] = size, levels
            continue
        if key in open_:
            raise LimitError("the data refers to itself (a recursive YAML alias)")
        if key in expanded:
            continue
        if len(open_) >= max_depth:
            raise LimitError(f"the data nests deeper than {max_depth} levels")
        containers = [child for child in _children(value) if isinstance(child, _CONTAINERS)]
        scalars = len(value) * (2 if isinstance(value, dict) else 1) - len(containers)
        open_[key] = (scalars, containers)
        unique += 1 + scalars
        stack.append((value, True))
        stack.extend((child, False) for child in containers)
    added = expanded[id(data)] - unique
    if added > max_alias_nodes:
        raise LimitError(
            f"YAML aliases expand the data by {added} nodes; the limit is {max_alias_nodes}"
        )


def find_nul(data) -> bool:
    """Whether any string (key or value) in `data` holds a NUL character, which PostgreSQL
    cannot store in text or jsonb."""
    stack = [data]
    seen: set[int] = set()
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict | list | tuple) and id(value) not in seen:
            seen.add(id(value))
            stack.extend(_children(value))
    return False


def load_yaml(text: str | bytes, loader=None):
    """One YAML (or JSON) document, checked. Raises LimitError with the reason."""
    try:
        data = yaml.load(text, Loader=loader or _BASE_LOADER)
    except yaml.YAMLError as error:
        raise LimitError(f"not valid YAML or JSON: {_yaml_reason(error)}") from None
    except RecursionError:
        raise LimitError(f"the data nests deeper than {MAX_DEPTH} levels") from None
    check(data)
    return data


def load_json(text: str | bytes):
    try:
        data = json.loads(text)
    except RecursionError:
        raise LimitError(f"the data nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise LimitError(f"not valid JSON: {error}") from None
    check(data)
    return data


def _yaml_reason(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    text = f"{context}, {problem}" if context else problem
    return f"{text} (line {mark.line + 1}, column {mark.column + 1})" if mark else text
