"""Reading a pasted or uploaded kubeconfig: its contexts, the server and user each points at.
Pure. What a kubeconfig may hold is clusters.kubeconfig_policy's business."""

import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: every task parses one


class KubeconfigError(ValueError):
    pass


def load(text: str) -> dict:
    try:
        config = yaml.load(text, Loader=LOADER)
    except yaml.YAMLError as error:
        raise KubeconfigError(f"The kubeconfig is not valid YAML: {error}") from None
    if not isinstance(config, dict) or not isinstance(config.get("contexts"), list):
        raise KubeconfigError("The kubeconfig has no contexts (is it a kubeconfig file?).")
    return config


def contexts(config: dict) -> list[str]:
    return [entry.get("name") for entry in config["contexts"] if isinstance(entry, dict)]


def current_context(config: dict) -> str:
    return config.get("current-context") or (contexts(config) or [""])[0]


def server_of(config: dict, context: str) -> str:
    """The API server URL the context points at; KubeconfigError naming what is missing."""
    if context not in contexts(config):
        raise KubeconfigError(
            f"The kubeconfig has no context '{context}'; it has: "
            f"{', '.join(str(name) for name in contexts(config))}."
        )
    cluster_name = _context_body(config, context).get("cluster")
    server = (_named(config, "clusters", "cluster", cluster_name) or {}).get("server")
    if server:
        return server
    raise KubeconfigError(
        f"Context '{context}' names cluster '{cluster_name}', which has no server."
    )


def _context_body(config: dict, context: str) -> dict:
    by_name = {
        entry.get("name"): entry.get("context") or {}
        for entry in config.get("contexts") or []
        if isinstance(entry, dict)
    }
    return by_name.get(context) or {}


def _named(config: dict, section: str, body_key: str, name) -> dict | None:
    for entry in config.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(body_key)
            if body is None:
                body = entry[body_key] = {}
            return body
    return None


def user_of(config: dict, context: str) -> dict:
    """The context's user entry (the dict inside `config`, so callers may change a copy);
    {} when the context names no user."""
    user = _named(config, "users", "user", _context_body(config, context).get("user"))
    return user if user is not None else {}


def cluster_of(config: dict, context: str) -> dict | None:
    return _named(config, "clusters", "cluster", _context_body(config, context).get("cluster"))
