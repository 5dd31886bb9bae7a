"""Running a kubeconfig's exec credential plugin (EKS, GKE, AKS, OIDC) the safe way.

The official client's ExecProvider runs the command with the worker's whole environment
(database URL and credentials key included) and no time limit. Here a plugin runs only when the
policy names its absolute path, without a shell, with a fixed environment (PATH, HOME, LANG,
the variables the policy passes through, the kubeconfig's `env`, KUBERNETES_EXEC_INFO), stdin
closed, and a time limit. Its answer is an ExecCredential: a token or a client certificate.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from clusters.kubeconfig_policy import Policy, exec_problems

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EXPIRY_SKEW = datetime.timedelta(seconds=10)  # fetch again this long before it expires
STDERR_SHOWN = 400


class ExecPluginError(Exception):
    pass


@dataclass(frozen=True)
class Credential:
    token: str | None = None
    client_certificate: str | None = None  # PEM
    client_key: str | None = None  # PEM
    expires_at: datetime.datetime | None = None

    def expired(self, now: datetime.datetime | None = None) -> bool:
        if self.expires_at is None:
            return False
        now = now or datetime.datetime.now(datetime.UTC)
        return self.expires_at - EXPIRY_SKEW <= now


def environment(plugin: dict, policy: Policy, exec_info: dict) -> dict[str, str]:
    env = {"PATH": SAFE_PATH, "HOME": policy.exec_home, "LANG": "C.UTF-8"}
    env.update({name: os.environ[name] for name in policy.exec_env if name in os.environ})
    env.update({item["name"]: item.get("value", "") for item in plugin.get("env") or []})
    env["KUBERNETES_EXEC_INFO"] = json.dumps(exec_info)
    return env


def exec_info(plugin: dict, cluster: dict | None) -> dict:
    info: dict = {
        "apiVersion": plugin["apiVersion"],
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
    if plugin.get("provideClusterInfo") and cluster:
        shown = {
            "server": cluster.get("server"),
            "certificate-authority-data": cluster.get("certificate-authority-data"),
            "tls-server-name": cluster.get("tls-server-name"),
            "insecure-skip-tls-verify": bool(cluster.get("insecure-skip-tls-verify")),
        }
        for extension in cluster.get("extensions") or []:
            if isinstance(extension, dict) and extension.get("name") == (
                "client.authentication.k8s.io/exec"
            ):
                shown["config"] = extension.get("extension")
        info["spec"]["cluster"] = {key: value for key, value in shown.items() if value is not None}
    return info


def run(plugin: dict, cluster: dict | None, policy: Policy) -> Credential:
    """Run the plugin once and read its ExecCredential; ExecPluginError says what went wrong."""
    refused = exec_problems("exec", plugin, policy)
    if refused:  # the caller checked already; a plugin never runs unchecked
        raise ExecPluginError("; ".join(refused))
    command = plugin["command"]
    Path(policy.exec_home).mkdir(parents=True, exist_ok=True)
    try:
        finished = subprocess.run(
            [command, *(plugin.get("args") or [])],
            env=environment(plugin, policy, exec_info(plugin, cluster)),
            cwd=policy.exec_home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=policy.exec_timeout,
            shell=False,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ExecPluginError(
            f"the exec credential plugin {command} did not answer within {policy.exec_timeout:g} s"
        ) from None
    except OSError as error:
        raise ExecPluginError(f"the exec credential plugin {command} cannot run: {error}") from None
    if finished.returncode != 0:
        stderr = finished.stderr.decode("utf-8", "replace").strip()[-STDERR_SHOWN:]
        raise ExecPluginError(
            f"the exec credential plugin {command} exited with {finished.returncode}"
            + (f": {stderr}" if stderr else "")
        )
    return parse(finished.stdout, plugin["apiVersion"], command)


def parse(stdout: bytes, api_version: str, command: str = "the plugin") -> Credential:
    try:
        data = json.loads(stdout)
    except ValueError:
        raise ExecPluginError(f"{command} did not print an ExecCredential (JSON)") from None
    if not isinstance(data, dict) or data.get("kind") != "ExecCredential":
        raise ExecPluginError(f"{command} did not print an ExecCredential")
    if data.get("apiVersion") != api_version:
        raise ExecPluginError(
            f"{command} answered {data.get('apiVersion')}, not the {api_version} it was asked for"
        )
    status = data.get("status")
    if not isinstance(status, dict):
        raise ExecPluginError(f"{command}'s ExecCredential has no status")
    expires_at = None
    if status.get("expirationTimestamp"):
        try:
            expires_at = datetime.datetime.fromisoformat(
                str(status["expirationTimestamp"]).replace("Z", "+00:00")
            )
        except ValueError:
            raise ExecPluginError(
                f"{command}'s expirationTimestamp is not a time: {status['expirationTimestamp']}"
            ) from None
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=datetime.UTC)
    if isinstance(status.get("token"), str) and status["token"]:
        return Credential(token=status["token"], expires_at=expires_at)
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if isinstance(cert, str) and isinstance(key, str) and cert and key:
        return Credential(client_certificate=cert, client_key=key, expires_at=expires_at)
    raise ExecPluginError(
        f"{command}'s ExecCredential has neither a token nor clientCertificateData + clientKeyData"
    )
