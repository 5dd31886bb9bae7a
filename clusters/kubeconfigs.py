"""Reading a pasted or uploaded kubeconfig: its contexts and the server each points at. Pure."""

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
    by_name = {entry.get("name"): entry.get("context") or {} for entry in config["contexts"]}
    if context not in by_name:
        raise KubeconfigError(
            f"The kubeconfig has no context '{context}'; it has: {', '.join(contexts(config))}."
        )
    cluster_name = by_name[context].get("cluster")
    for entry in config.get("clusters") or []:
        if entry.get("name") == cluster_name:
            server = (entry.get("cluster") or {}).get("server")
            if server:
                return server
    raise KubeconfigError(
        f"Context '{context}' names cluster '{cluster_name}', which has no server."
    )


def credentials_expire(config: dict, context: str) -> bool:
    """Whether the context's user gets its credentials from an exec plugin or an auth provider,
    whose tokens expire and must be fetched again; static tokens and certificates do not."""
    by_name = {entry.get("name"): entry.get("context") or {} for entry in config["contexts"]}
    user_name = (by_name.get(context) or {}).get("user")
    for entry in config.get("users") or []:
        if entry.get("name") == user_name:
            user = entry.get("user") or {}
            return "exec" in user or "auth-provider" in user
    return False
