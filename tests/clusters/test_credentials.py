import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from clusters import credentials
from clusters.models import Cluster

pytestmark = pytest.mark.django_db


def test_rotating_the_key_keeps_credentials_readable(monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv(credentials.ENV_VAR, old)
    cluster = Cluster(name="c")
    cluster.set_kubeconfig("apiVersion: v1\nkind: Config\n")
    cluster.save()
    monkeypatch.setenv(credentials.ENV_VAR, f"{new},{old}")
    call_command("rotate_credentials")
    monkeypatch.setenv(credentials.ENV_VAR, new)  # the old key is gone now
    assert Cluster.objects.get(name="c").kubeconfig_text() == "apiVersion: v1\nkind: Config\n"
    monkeypatch.setenv(credentials.ENV_VAR, old)
    with pytest.raises(credentials.CredentialsError, match="cannot be decrypted"):
        Cluster.objects.get(name="c").kubeconfig_text()


def test_a_bad_key_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(credentials.ENV_VAR, "not-a-key")
    with pytest.raises(credentials.CredentialsError, match="invalid Fernet key"):
        credentials.encrypt("x")
