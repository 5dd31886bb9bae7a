"""`spec.config` JSON text: objects one key per line, flat lists on one line, the same bytes for
the same plan."""

from __future__ import annotations

import json


def _is_flat(value) -> bool:
    if isinstance(value, dict):
        return all(not isinstance(item, dict | list) for item in value.values())
    return not isinstance(value, list)


def config_json(value, level: int = 0) -> str:
    """JSON text as described in the module docstring (deterministic, readable in YAML)."""
    if isinstance(value, dict) and value:
        pad = "  " * (level + 1)
        items = [
            f"{pad}{json.dumps(key)}: {config_json(item, level + 1)}" for key, item in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    if isinstance(value, list) and value and not all(_is_flat(item) for item in value):
        pad = "  " * (level + 1)
        items = [pad + config_json(item, level + 1) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * level + "]"
    return json.dumps(value)
