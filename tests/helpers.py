"""Small helpers for tests (import as `tests.helpers`)."""


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def deploy_seed_scene(lab, plan, namespace: str = "ai-training", typo_rails=(0, 1, 2, 3)) -> None:
    """The plan's NADs in the lab, its training pod (rails 0-3) and a pod "typo" asking for
    `typo_rails` with rail 1's NAD misspelled; returns once the worker runs and the typo pod
    has its Warning event."""
    import copy
    import json

    from clusters.kube import Kube, Target
    from planner import manifests

    spec = plan.to_spec()
    kube = Kube(Target(kubeconfig=lab.kubeconfig_path.read_text()))
    kube.ensure_namespace(namespace)
    for obj in manifests.render_nads(spec):
        kube.apply(obj)
    pod = manifests.render_pod(spec, {"rails": [0, 1, 2, 3]})[0]
    typo = copy.deepcopy(pod)
    typo["metadata"]["name"] = "typo"
    typo["metadata"]["annotations"][manifests.NETWORKS_ANNOTATION] = json.dumps(
        [
            {
                "name": "sriov-rial-1" if rail == 1 else f"sriov-rail-{rail}",
                "interface": f"net{rail + 1}",
            }
            for rail in typo_rails
        ]
    )
    kube.create_pod(pod)
    kube.create_pod(typo)
    lab.wait_for_pod(namespace, pod["metadata"]["name"], timeout=20)
    wait_for(
        lambda: any(
            e["involvedObject"]["name"] == "typo" and e.get("type") == "Warning"
            for e in kube.events(namespace)
        )
    )
