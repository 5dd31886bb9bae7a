"""clusters.kube's client against the lab over HTTPS: static tokens and exec credential
plugins (whose tokens expire, so the client must keep fetching them)."""

import json
import stat
import sys

import yaml

from clusters.kube import Kube, Target


def _with_exec_plugin(lab, tmp_path, expiry: str, settings) -> str:
    """The lab's kubeconfig with its token replaced by an exec plugin that prints it, counting
    how often it runs; the plugin's path is allowed in RAILSTUDIO_EXEC_PLUGINS."""
    plugin = tmp_path / "token-plugin"
    calls = tmp_path / "plugin-calls"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": lab.token, "expirationTimestamp": expiry},
    }
    plugin.write_text(
        f"#!{sys.executable}\n"
        "import json, pathlib\n"
        f"path = pathlib.Path({str(calls)!r})\n"
        "path.write_text(str(int(path.read_text() or 0) + 1) if path.exists() else '1')\n"
        f"print(json.dumps({credential!r}))\n"
    )
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    settings.RAILSTUDIO_EXEC_PLUGINS = [str(plugin)]
    config = yaml.safe_load(lab.kubeconfig_path.read_text())
    config["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": str(plugin),
            "interactiveMode": "Never",
        }
    }
    return yaml.safe_dump(config)


def _plugin_calls(tmp_path) -> int:
    return int((tmp_path / "plugin-calls").read_text())


def test_a_static_token_works_and_skips_the_per_request_refresh(lab):
    with Kube(Target(kubeconfig=lab.kubeconfig_path.read_text())) as kube:
        assert kube.api.configuration.refresh_api_key_hook is None
        assert len(kube.nodes()) == 4


def test_an_exec_credential_plugin_supplies_the_token(lab, tmp_path, settings):
    kubeconfig = _with_exec_plugin(lab, tmp_path, "2099-01-01T00:00:00Z", settings)
    with Kube(Target(kubeconfig=kubeconfig)) as kube:
        assert kube.api.configuration.refresh_api_key_hook is not None
        assert len(kube.nodes()) == 4
        assert kube.list("v1", "Namespace")
    assert _plugin_calls(tmp_path) == 1  # a token good until 2099 is fetched once


def test_an_expired_exec_credential_is_fetched_again_before_a_request(lab, tmp_path, settings):
    kubeconfig = _with_exec_plugin(lab, tmp_path, "2000-01-01T00:00:00Z", settings)
    with Kube(Target(kubeconfig=kubeconfig)) as kube:
        before = _plugin_calls(tmp_path)
        assert len(kube.nodes()) == 4
        assert json.dumps(kube.version())
    assert _plugin_calls(tmp_path) > before
