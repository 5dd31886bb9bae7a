"""What a registered kubeconfig may hold. Pure: the caller passes the Policy.

A kubeconfig is run by the worker, so anything in it that reads a file, runs a program or
sends the traffic elsewhere acts on Rail Studio's machine. Only inline material is accepted:
the server, `certificate-authority-data`, `client-certificate-data` + `client-key-data`,
`token`, and `insecure-skip-tls-verify` when a setting allows it. Exec credential plugins (EKS,
GKE, AKS, OIDC) run only when their absolute path is named in RAILSTUDIO_EXEC_PLUGINS. Servers
must be https (unless RAILSTUDIO_ALLOW_HTTP_SERVERS) and, when RAILSTUDIO_CLUSTER_SERVERS is
set, one of its hosts or inside one of its CIDRs.

The rules apply at registration, on update, and again each time a stored kubeconfig is used.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
TOP_KEYS = {
    "apiVersion", "kind", "clusters", "contexts", "users", "current-context", "preferences",
    "extensions",
}  # fmt: skip
CLUSTER_KEYS = {
    "server", "certificate-authority-data", "insecure-skip-tls-verify", "tls-server-name",
    "disable-compression", "extensions",
}  # fmt: skip
USER_KEYS = {"token", "client-certificate-data", "client-key-data", "exec", "extensions"}
CONTEXT_KEYS = {"cluster", "user", "namespace", "extensions"}
EXEC_KEYS = {"apiVersion", "command", "args", "env", "interactiveMode", "provideClusterInfo",
             "installHint"}  # fmt: skip

FILE_KEYS = {
    "certificate-authority": "certificate-authority-data (the PEM, base64-encoded)",
    "client-certificate": "client-certificate-data (the PEM, base64-encoded)",
    "client-key": "client-key-data (the PEM, base64-encoded)",
}
REFUSED_USER_KEYS = {
    "tokenFile": "it reads a file on the Rail Studio machine and sends its content to the "
    "server as a bearer token; paste the token inline as `token`",
    "auth-provider": "the client's auth providers (gcp, oidc, azure) run programs and call "
    "other services from the Rail Studio machine; use an exec plugin named in "
    "RAILSTUDIO_EXEC_PLUGINS, or a token",
    "username": "basic authentication was removed from Kubernetes (1.19); use a token or a "
    "client certificate",
    "password": "basic authentication was removed from Kubernetes (1.19); use a token or a "
    "client certificate",
    "as": "impersonation is not supported",
    "as-uid": "impersonation is not supported",
    "as-groups": "impersonation is not supported",
    "as-user-extra": "impersonation is not supported",
}
REFUSED_CLUSTER_KEYS = {
    "proxy-url": "it sends the cluster's traffic, credentials included, through another host; "
    "Rail Studio connects to the API server directly",
}
# Environment a kubeconfig may not set for an exec plugin: what changes which code runs.
DENIED_ENV_PREFIXES = ("LD_", "DYLD_", "PYTHON", "NODE_", "PERL", "RUBY", "BASH_", "JAVA_",
                       "_JAVA", "GCONV", "KUBERNETES_EXEC")  # fmt: skip
DENIED_ENV = {"PATH", "HOME", "ENV", "IFS", "SHELLOPTS", "LOCPATH", "TMPDIR", "NLSPATH"}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Policy:
    exec_plugins: frozenset[str] = frozenset()  # absolute paths of plugins that may run
    allow_http: bool = False
    allow_insecure_tls: bool = False
    servers: tuple[str, ...] = ()  # hostnames, *.suffix, or CIDRs; empty: any server
    exec_timeout: float = 20.0  # seconds a plugin may take
    exec_env: tuple[str, ...] = ()  # names of the worker's variables passed to plugins
    exec_home: str = "/nonexistent"  # HOME (and working directory) of a plugin

    @classmethod
    def from_settings(cls, settings) -> Policy:
        return cls(
            exec_plugins=frozenset(settings.RAILSTUDIO_EXEC_PLUGINS),
            allow_http=settings.RAILSTUDIO_ALLOW_HTTP_SERVERS,
            allow_insecure_tls=settings.RAILSTUDIO_ALLOW_INSECURE_TLS,
            servers=tuple(settings.RAILSTUDIO_CLUSTER_SERVERS),
            exec_timeout=settings.RAILSTUDIO_EXEC_PLUGIN_TIMEOUT,
            exec_env=tuple(settings.RAILSTUDIO_EXEC_PLUGIN_ENV),
            exec_home=str(settings.VAR_DIR / "exec-plugin-home"),
        )


def current() -> Policy:
    from django.conf import settings

    return Policy.from_settings(settings)


class KubeconfigRefused(ValueError):
    """The kubeconfig breaks the rules; `problems` name each key and why."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def enforce(config: dict, policy: Policy) -> None:
    found = problems(config, policy)
    if found:
        raise KubeconfigRefused(found)


def problems(config: dict, policy: Policy) -> list[str]:
    """Every rule the kubeconfig (all its clusters, users and contexts) breaks, as
    "<key path>: refused because <reason>"."""
    found: list[str] = []
    if not isinstance(config, dict):
        return ["kubeconfig: refused because it is not a mapping"]
    for key in config:
        if key not in TOP_KEYS:
            found.append(_unknown(str(key), key, TOP_KEYS))
    for index, body in _entries(config, "clusters", "cluster", found):
        found += _cluster_problems(f"clusters[{index}].cluster", body, policy)
    for index, body in _entries(config, "users", "user", found):
        found += _user_problems(f"users[{index}].user", body, policy)
    for index, body in _entries(config, "contexts", "context", found):
        for key in body:
            if key not in CONTEXT_KEYS:
                found.append(_unknown(f"contexts[{index}].context.{key}", key, CONTEXT_KEYS))
    return found


def _entries(config: dict, section: str, body_key: str, found: list[str]):
    items = config.get(section)
    if items is None:
        return
    if not isinstance(items, list):
        found.append(f"{section}: refused because it must be a list of {{name, {body_key}}}")
        return
    for index, entry in enumerate(items):
        if not isinstance(entry, dict) or not isinstance(entry.get(body_key) or {}, dict):
            found.append(f"{section}[{index}]: refused because it must be {{name, {body_key}}}")
            continue
        yield index, entry.get(body_key) or {}


def _unknown(path: str, key, allowed: set[str]) -> str:
    return (
        f"{path}: refused because '{key}' is not a key Rail Studio accepts here "
        f"(accepted: {', '.join(sorted(allowed))})"
    )


def _cluster_problems(path: str, cluster: dict, policy: Policy) -> list[str]:
    found = []
    for key in cluster:
        if key in FILE_KEYS:
            found.append(
                f"{path}.{key}: refused because it names a file on the Rail Studio machine; "
                f"paste the content inline as {FILE_KEYS[key]}"
            )
        elif key in REFUSED_CLUSTER_KEYS:
            found.append(f"{path}.{key}: refused because {REFUSED_CLUSTER_KEYS[key]}")
        elif key not in CLUSTER_KEYS:
            found.append(_unknown(f"{path}.{key}", key, CLUSTER_KEYS))
    skip = cluster.get("insecure-skip-tls-verify")
    if skip not in (None, False):
        if skip is not True:
            found.append(f"{path}.insecure-skip-tls-verify: refused because it must be true/false")
        elif not policy.allow_insecure_tls:
            found.append(
                f"{path}.insecure-skip-tls-verify: refused because it turns off TLS "
                "verification, so anyone on the path can read the credentials; give "
                "certificate-authority-data instead (RAILSTUDIO_ALLOW_INSECURE_TLS allows it)"
            )
    if "certificate-authority-data" in cluster:
        found += _pem(f"{path}.certificate-authority-data", cluster, "CERTIFICATE")
    found += server_problems(f"{path}.server", cluster.get("server"), policy)
    return found


def server_problems(path: str, server, policy: Policy) -> list[str]:
    if server is None:
        return []  # a context naming this cluster reports the missing server
    if not isinstance(server, str) or not server.strip():
        return [f"{path}: refused because it must be a URL such as https://host:6443"]
    try:
        parts = urlsplit(server.strip())
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as error:
        return [f"{path}: refused because it is not a URL ({error})"]
    if parts.scheme not in ("https", "http") or not host:
        return [f"{path}: refused because {server!r} is not an https:// URL with a host"]
    if parts.scheme == "http" and not policy.allow_http:
        return [
            f"{path}: refused because {server} is not https: the credentials would cross the "
            "network in clear text (RAILSTUDIO_ALLOW_HTTP_SERVERS allows http)"
        ]
    if parts.username is not None or parts.password is not None:
        return [f"{path}: refused because the URL carries credentials (user@host)"]
    if policy.servers and not server_allowed(host, policy.servers):
        return [
            f"{path}: refused because {host} is not one of the servers Rail Studio may contact "
            f"(RAILSTUDIO_CLUSTER_SERVERS: {', '.join(policy.servers)})"
        ]
    return []


def server_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether `host` (a name or an IP literal) is in the allow-list: exact names, `*.suffix`
    for any subdomain, CIDRs for IP literals. Names are not resolved: list them."""
    host = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in allowed:
        entry = entry.strip().lower()
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        elif entry.startswith("*."):
            if host.endswith(entry[1:]) and host != entry[2:]:
                return True
        elif host == entry.rstrip("."):
            return True
    return False


def _user_problems(path: str, user: dict, policy: Policy) -> list[str]:
    found = []
    for key in user:
        if key in FILE_KEYS:
            found.append(
                f"{path}.{key}: refused because it names a file on the Rail Studio machine; "
                f"paste the content inline as {FILE_KEYS[key]}"
            )
        elif key in REFUSED_USER_KEYS:
            found.append(f"{path}.{key}: refused because {REFUSED_USER_KEYS[key]}")
        elif key not in USER_KEYS:
            found.append(_unknown(f"{path}.{key}", key, USER_KEYS))
    if ("client-certificate-data" in user) != ("client-key-data" in user):
        found.append(
            f"{path}: refused because client-certificate-data and client-key-data go together"
        )
    if "client-certificate-data" in user:
        found += _pem(f"{path}.client-certificate-data", user, "CERTIFICATE")
    if "client-key-data" in user:
        found += _pem(f"{path}.client-key-data", user, "PRIVATE KEY")
    if "token" in user and not isinstance(user["token"], str):
        found.append(f"{path}.token: refused because it must be a string")
    if "exec" in user:
        found += exec_problems(f"{path}.exec", user["exec"], policy)
    return found


def _pem(path: str, holder: dict, label: str) -> list[str]:
    value = holder.get(path.rsplit(".", 1)[1])
    try:
        text = base64.b64decode(str(value), validate=True).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return [f"{path}: refused because it is not base64 (it holds the PEM, base64-encoded)"]
    if "-----BEGIN " not in text or label not in text:
        return [f"{path}: refused because it does not hold a PEM {label.lower()}"]
    return []


def exec_problems(path: str, plugin, policy: Policy) -> list[str]:
    if not isinstance(plugin, dict):
        return [f"{path}: refused because it must be a mapping"]
    found = [_unknown(f"{path}.{key}", key, EXEC_KEYS) for key in plugin if key not in EXEC_KEYS]
    command = plugin.get("command")
    allowed = ", ".join(sorted(policy.exec_plugins)) or "none"
    if not isinstance(command, str) or not command.startswith("/"):
        found.append(
            f"{path}: refused because it runs {command!r} on the Rail Studio worker; only "
            f"plugins named by absolute path in RAILSTUDIO_EXEC_PLUGINS may run (it names: "
            f"{allowed})"
        )
    elif command not in policy.exec_plugins:
        found.append(
            f"{path}: refused because it runs {command} on the Rail Studio worker, and "
            f"RAILSTUDIO_EXEC_PLUGINS does not name it (it names: {allowed})"
        )
    if plugin.get("apiVersion") not in EXEC_API_VERSIONS:
        found.append(
            f"{path}.apiVersion: refused because it must be one of {', '.join(EXEC_API_VERSIONS)}"
        )
    args = plugin.get("args") or []
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        found.append(f"{path}.args: refused because it must be a list of strings")
    found += _env_problems(f"{path}.env", plugin.get("env") or [])
    if plugin.get("interactiveMode") == "Always":
        found.append(
            f"{path}.interactiveMode: refused because a worker has no terminal to answer a "
            "prompt (use Never or IfAvailable)"
        )
    return found


def _env_problems(path: str, env) -> list[str]:
    if not isinstance(env, list):
        return [f"{path}: refused because it must be a list of {{name, value}}"]
    found = []
    for index, item in enumerate(env):
        where = f"{path}[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("value", ""), str):
            found.append(f"{where}: refused because it must be {{name, value}} strings")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not ENV_NAME.match(name):
            found.append(f"{where}.name: refused because {name!r} is not a variable name")
        elif name.upper() in DENIED_ENV or name.upper().startswith(DENIED_ENV_PREFIXES):
            found.append(f"{where}.name: refused because {name} changes which code the plugin runs")
    return found
