"""Kubeconfigs cannot reach the worker's machine: every shape that would run a program, read a
file or send the traffic elsewhere is refused with a 400 naming the key (and nothing runs: the
marker file the plugin would write stays absent), at registration, on update, in the page, and
again when an old stored row is used. An exec plugin named in RAILSTUDIO_EXEC_PLUGINS works,
with a fixed environment and a time limit. Against the lab over HTTPS, with a real worker."""

import copy
import http.server
import json
import stat
import sys
import threading
import time

import pytest
import yaml
from django.urls import reverse

from clusters import kubeconfig_policy, tasks
from clusters.exec_plugins import SAFE_PATH
from clusters.kube import Kube, KubeError, Target
from clusters.kubeconfig_policy import Policy
from clusters.models import Cluster, ExecRun, Rollout
from tests.helpers import wait_for

SECRET_ENV = ("DATABASE_URL", "RAILSTUDIO_CREDENTIALS_KEY", "SECRET_KEY", "REDIS_URL")


@pytest.fixture
def roles(db):
    from railstudio.roles import ensure_roles

    ensure_roles()


@pytest.fixture
def plugin(tmp_path, lab):
    """An exec credential plugin that records that it ran (and its environment) in a marker
    file, then prints the lab's token; `sleep` seconds first when told."""
    path, marker = tmp_path / "bin" / "lab-token", tmp_path / "plugin-ran"
    path.parent.mkdir()
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": lab.token, "expirationTimestamp": "2099-01-01T00:00:00Z"},
    }
    path.write_text(
        f"#!{sys.executable}\n"
        "import json, os, pathlib, time\n"
        "time.sleep(float(os.environ.get('PLUGIN_SLEEP', '0')))\n"
        f"pathlib.Path({str(marker)!r}).write_text(json.dumps(dict(os.environ)))\n"
        f"print(json.dumps({credential!r}))\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path, marker


def lab_config(lab) -> dict:
    return yaml.safe_load(lab.kubeconfig_path.read_text())


def exec_user(command: str, **extra) -> dict:
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command, **extra}}


def shapes(lab, plugin_path, tmp_path) -> dict:
    """name -> (kubeconfig, the key path the 400 must name)."""
    secret = tmp_path / "credentials_key"
    secret.write_text("the Fernet key")
    marker = tmp_path / "plugin-ran"

    def variant(cluster=None, user=None):
        config = copy.deepcopy(lab_config(lab))
        config["clusters"][0]["cluster"].update(cluster or {})
        if user is not None:
            config["users"][0]["user"] = user
        return yaml.safe_dump(config)

    return {
        "exec plugin not in the allow-list": (
            variant(user=exec_user(str(plugin_path))),
            "users[0].user.exec: refused because it runs",
        ),
        "exec through a shell": (
            variant(user=exec_user("/bin/sh", args=["-c", f"id > {marker}; echo {{}}"])),
            "users[0].user.exec: refused because it runs /bin/sh",
        ),
        "exec by bare name": (
            variant(user=exec_user("sh")),
            "users[0].user.exec: refused because it runs 'sh'",
        ),
        "auth-provider": (
            variant(
                user={"auth-provider": {"name": "gcp", "config": {"cmd-path": str(plugin_path)}}}
            ),
            "users[0].user.auth-provider: refused because",
        ),
        "tokenFile": (
            variant(user={"tokenFile": str(secret)}),
            "users[0].user.tokenFile: refused because it reads a file",
        ),
        "certificate-authority file": (
            variant(cluster={"certificate-authority": "/etc/ssl/certs/ca-certificates.crt"}),
            "clusters[0].cluster.certificate-authority: refused because it names a file",
        ),
        "client certificate and key files": (
            variant(user={"client-certificate": "/tmp/cert.pem", "client-key": "/tmp/key.pem"}),
            "users[0].user.client-certificate: refused because it names a file",
        ),
        "proxy-url": (
            variant(cluster={"proxy-url": "http://127.0.0.1:3128"}),
            "clusters[0].cluster.proxy-url: refused because",
        ),
        "http server": (
            variant(cluster={"server": lab.url.replace("https://", "http://")}),
            "clusters[0].cluster.server: refused because",
        ),
        "insecure-skip-tls-verify": (
            variant(cluster={"insecure-skip-tls-verify": True}),
            "clusters[0].cluster.insecure-skip-tls-verify: refused because",
        ),
        "basic auth": (
            variant(user={"username": "admin", "password": "pw"}),
            "users[0].user.username: refused because basic authentication",
        ),
    }


# ---------------------------------------------------------------------------------------------
# The rules, pure


def test_the_policy_names_every_refused_key():
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c",
                "cluster": {
                    "server": "http://10.0.0.1:6443",
                    "certificate-authority": "/ca",
                    "proxy-url": "socks5://x",
                    "insecure-skip-tls-verify": True,
                },
            }
        ],
        "users": [
            {
                "name": "u",
                "user": {
                    "tokenFile": "/t",
                    "client-key": "/k",
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1",
                        "command": "/usr/local/bin/aws",
                        "env": [{"name": "LD_PRELOAD", "value": "/tmp/x.so"}],
                    },
                },
            }
        ],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "as": "root"}}],
    }
    policy = Policy(exec_plugins=frozenset({"/usr/local/bin/aws"}))
    found = kubeconfig_policy.problems(config, policy)
    keys = [problem.split(":", 1)[0] for problem in found]
    assert keys == [
        "clusters[0].cluster.certificate-authority",
        "clusters[0].cluster.proxy-url",
        "clusters[0].cluster.insecure-skip-tls-verify",
        "clusters[0].cluster.server",
        "users[0].user.tokenFile",
        "users[0].user.client-key",
        "users[0].user.exec.env[0].name",
        "contexts[0].context.as",
    ]
    assert all(": refused because " in problem for problem in found)
    allowed = Policy(
        exec_plugins=frozenset({"/usr/local/bin/aws"}), allow_http=True, allow_insecure_tls=True
    )
    assert not kubeconfig_policy.server_problems("s", "http://10.0.0.1:6443", allowed)


@pytest.mark.parametrize(
    ("host", "allowed", "ok"),
    [
        ("10.1.2.3", ("10.0.0.0/8",), True),
        ("10.1.2.3", ("192.168.0.0/16", "api.example.com"), False),
        ("api.example.com", ("api.example.com",), True),
        ("API.example.com", ("*.example.com",), True),
        ("example.com", ("*.example.com",), False),
        ("evil-example.com", ("*.example.com",), False),
        ("::1", ("::1/128",), True),
    ],
)
def test_the_server_allow_list_takes_names_wildcards_and_cidrs(host, allowed, ok):
    assert kubeconfig_policy.server_allowed(host, allowed) is ok


# ---------------------------------------------------------------------------------------------
# Registration, update and the page: 400/422 naming the key, nothing runs


@pytest.mark.django_db(transaction=True)
def test_every_refused_shape_is_a_400_naming_the_key_and_nothing_runs(
    roles, operator_api, lab, plugin, tmp_path, celery_worker_thread, settings
):
    settings.RAILSTUDIO_CLUSTER_SERVERS = ["127.0.0.0/8"]
    plugin_path, marker = plugin
    tried = shapes(lab, plugin_path, tmp_path)
    tried["server outside RAILSTUDIO_CLUSTER_SERVERS"] = (
        lab.kubeconfig_path.read_text(),
        "clusters[0].cluster.server: refused because 127.0.0.1 is not one of the servers",
    )
    refused = {}
    for name, (kubeconfig, expected) in tried.items():
        if name == "server outside RAILSTUDIO_CLUSTER_SERVERS":
            settings.RAILSTUDIO_CLUSTER_SERVERS = ["10.0.0.0/8", "api.example.com"]
        response = operator_api.post(
            "/api/clusters/", {"name": "c", "kubeconfig": kubeconfig}, format="json"
        )
        assert response.status_code == 400, (name, response.content)
        messages = response.json()["kubeconfig"]
        assert any(message.startswith(expected) for message in messages), (name, messages)
        refused[name] = messages
    assert not Cluster.objects.exists()
    time.sleep(1)  # had anything been queued, the worker would have run it by now
    assert not marker.exists()
    print(f"kubeconfig shapes tried: {len(tried)}, refused with 400: {len(refused)}")


@pytest.mark.django_db
def test_the_page_and_an_update_refuse_them_too(
    as_operator, operator_api, lab, lab_cluster, plugin, tmp_path
):
    plugin_path, marker = plugin
    kubeconfig, expected = shapes(lab, plugin_path, tmp_path)["exec through a shell"]
    form = {"name": "x", "kubeconfig": kubeconfig, "mode": "nad"}
    page = as_operator.post(reverse("cluster-create"), form)
    assert page.status_code == 422 and expected in page.content.decode()
    pasted = as_operator.post(reverse("cluster-contexts"), {"kubeconfig": kubeconfig})
    assert pasted.status_code == 422 and expected in pasted.content.decode()
    before = lab_cluster.kubeconfig_encrypted
    updated = operator_api.patch(
        f"/api/clusters/{lab_cluster.pk}/", {"kubeconfig": kubeconfig}, format="json"
    )
    assert updated.status_code == 400 and updated.json()["kubeconfig"][0].startswith(expected)
    lab_cluster.refresh_from_db()
    assert lab_cluster.kubeconfig_encrypted == before and not marker.exists()
    assert Cluster.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# Use time: an old row that breaks the rules fails clearly and is never run


@pytest.mark.django_db(transaction=True)
def test_a_stored_kubeconfig_that_breaks_the_rules_is_never_run(
    roles, lab, seed_plan, plugin, tmp_path, celery_worker_thread, operator_api
):
    plugin_path, marker = plugin
    kubeconfig, expected = shapes(lab, plugin_path, tmp_path)["exec plugin not in the allow-list"]
    cluster = Cluster(name="old", server=lab.url)
    cluster.set_kubeconfig(kubeconfig)  # as a row registered before the rules existed
    cluster.save()
    cluster.plans.add(seed_plan)
    tasks.test_connection.delay(cluster.pk)
    cluster = wait_for(
        lambda: Cluster.objects.filter(pk=cluster.pk, tested_at__isnull=False).first()
    )
    assert cluster.reachable is False
    assert "breaks Rail Studio's credential rules, so it was not used" in cluster.last_error
    assert expected in cluster.last_error
    started = operator_api.post(
        f"/api/clusters/{cluster.pk}/rollouts/", {"plan": seed_plan.slug}, format="json"
    )
    record = wait_for(
        lambda: Rollout.objects.filter(pk=started.json()["id"], state="failed").first()
    )
    assert record.message.startswith("Not run: The stored kubeconfig breaks")
    ran = operator_api.post(
        f"/api/clusters/{cluster.pk}/pods/ai-training/p/exec/", {"command": "env"}, format="json"
    )
    run = wait_for(
        lambda: ExecRun.objects.filter(pk=ran.json()["id"], finished_at__isnull=False).first()
    )
    assert "credential rules" in run.error
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# An allowed plugin


@pytest.mark.django_db(transaction=True)
def test_an_allowed_exec_plugin_works_with_a_fixed_environment(
    roles, operator_api, lab, plugin, celery_worker_thread, settings, monkeypatch
):
    plugin_path, marker = plugin
    settings.RAILSTUDIO_EXEC_PLUGINS = [str(plugin_path)]
    settings.RAILSTUDIO_EXEC_PLUGIN_ENV = ["AWS_PROFILE"]
    monkeypatch.setenv("AWS_PROFILE", "gpu-east")
    monkeypatch.setenv("SECRET_KEY", "must-not-reach-the-plugin")
    config = lab_config(lab)
    config["users"][0]["user"] = exec_user(
        str(plugin_path), args=["--cluster", "lab"], env=[{"name": "REGION", "value": "eu-1"}]
    )
    response = operator_api.post(
        "/api/clusters/", {"name": "cloud", "kubeconfig": yaml.safe_dump(config)}, format="json"
    )
    assert response.status_code == 201, response.json()
    cluster = wait_for(lambda: Cluster.objects.filter(tested_at__isnull=False).first(), timeout=30)
    assert cluster.reachable is True and cluster.node_count == 4, cluster.last_error
    seen = json.loads(marker.read_text())
    assert seen["PATH"] == SAFE_PATH and seen["HOME"].endswith("exec-plugin-home")
    assert seen["AWS_PROFILE"] == "gpu-east" and seen["REGION"] == "eu-1"
    assert json.loads(seen["KUBERNETES_EXEC_INFO"])["kind"] == "ExecCredential"
    assert not [name for name in SECRET_ENV if name in seen]


def test_a_plugin_that_hangs_is_stopped_at_its_time_limit(lab, plugin, settings):
    plugin_path, _ = plugin
    settings.RAILSTUDIO_EXEC_PLUGINS = [str(plugin_path)]
    settings.RAILSTUDIO_EXEC_PLUGIN_TIMEOUT = 1
    config = lab_config(lab)
    config["users"][0]["user"] = exec_user(
        str(plugin_path), env=[{"name": "PLUGIN_SLEEP", "value": "30"}]
    )
    start = time.monotonic()
    with pytest.raises(KubeError, match="did not answer within 1 s") as raised:
        Kube(Target(kubeconfig=yaml.safe_dump(config)))
    assert time.monotonic() - start < 5 and not raised.value.transient


# ---------------------------------------------------------------------------------------------
# A server that is not a Kubernetes API


class _InternalPage(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html>INTERNAL-ONLY admin console: db password hunter2</html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def internal_page():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _InternalPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
def test_a_server_that_is_not_kubernetes_says_so_without_its_body(
    operator_api, internal_page, settings
):
    kubeconfig = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "x", "cluster": {"server": internal_page}}],
            "users": [{"name": "x", "user": {"token": "t"}}],
            "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
            "current-context": "x",
        }
    )
    refused = operator_api.post(
        "/api/clusters/", {"name": "x", "kubeconfig": kubeconfig}, format="json"
    )
    assert refused.status_code == 400 and "not https" in refused.json()["kubeconfig"][0]
    settings.RAILSTUDIO_ALLOW_HTTP_SERVERS = True
    created = operator_api.post(
        "/api/clusters/", {"name": "x", "kubeconfig": kubeconfig}, format="json"
    )
    assert created.status_code == 201
    tasks.test_connection(created.json()["id"])  # the task itself, as a worker runs it
    cluster = Cluster.objects.get()
    assert cluster.reachable is False
    assert cluster.last_error == ("connection test: answered HTTP 404; not a Kubernetes API server")
    assert "INTERNAL" not in cluster.last_error and "hunter2" not in str(
        operator_api.get(f"/api/clusters/{cluster.pk}/").json()
    )
