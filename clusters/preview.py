"""What the server would make of a bundle: a server-side dry-run apply of each object (and a
dry-run delete of each object a prune would remove), sent at once through kube.concurrently as
the writes are. clusters.diffing decides from the answers what would change."""

from __future__ import annotations

from functools import partial

from clusters import diffing
from clusters.kube import Kube, KubeError, concurrently


def _missing_namespace(error: KubeError) -> bool:
    """Server-side apply creates a missing object; its 404 means the namespace is missing."""
    return error.status == 404 and error.message.startswith('namespaces "')


def _delete(kube: Kube, obj: dict) -> dict:
    api_version, kind, namespace, name = diffing.key_of(obj)
    kube.delete(api_version, kind, name, namespace or None, dry_run=True)
    return {}


def _ask(kube: Kube, objects: list[dict], deletes: list[dict], parallel: int):
    calls = [partial(kube.apply, obj, dry_run=True, force=True) for obj in objects]
    calls += [partial(_delete, kube, obj) for obj in deletes]
    everything = [*objects, *deletes]
    for index, result, error in concurrently(calls, parallel):
        yield everything[index], result, error


def preview(
    kube: Kube,
    objects: list[dict],
    deletes: list[dict],
    parallel: int,
    *,
    create_namespaces: bool,
) -> dict[diffing.Key, diffing.Preview]:
    """The server's dry-run answer for each object. Objects in a namespace that does not exist
    yet are asked again once it exists; with `create_namespaces` False (a dry-run rollout) the
    namespace is only dry-run created and their answer stays "not found"."""
    answers: dict[diffing.Key, diffing.Preview] = {}
    waiting: dict[str, list[dict]] = {}
    for obj, result, error in _ask(kube, objects, deletes, parallel):
        key = diffing.key_of(obj)
        if error is not None and _missing_namespace(error) and obj in objects:
            waiting.setdefault(key[2], []).append(obj)
        answers[key] = diffing.Preview(result, error.message if error else "")
    if not waiting:
        return answers
    for namespace in sorted(waiting):
        kube.ensure_namespace(namespace, dry_run=not create_namespaces)
    if create_namespaces:
        again = [obj for objs in waiting.values() for obj in objs]
        for obj, result, error in _ask(kube, again, [], parallel):
            answers[diffing.key_of(obj)] = diffing.Preview(result, error.message if error else "")
    return answers
