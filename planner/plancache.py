"""Results computed from a whole plan, kept in Django's cache by (plan id, revision).

A plan's revision (planner.revisions) takes a new value with any committed write to the plan
or its rails, exclusions, nodes and NICs, so an entry never goes stale: a changed plan has a
new key, and old keys expire. The revision is read from the database before anything the result is computed
from, so a result is never stored under a revision older than its data (at worst under the one
before, which is then never asked for again). A transaction that has written the plan neither
reads nor keeps anything for it (its revision is `None` here) until it ends.

Each worker process also keeps the last two PlanSpecs in memory, so the pages and API calls of
one plan share one load. A cache that cannot be reached is skipped, never an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from threading import Lock

from django.core.cache import cache

from planner import revisions
from planner.models import Plan
from planner.planspec import PlanSpec

TIMEOUT = 6 * 3600
SPECS_IN_MEMORY = 2  # a 4,096 x 8 plan is some 15 MB in memory
MISSING = object()
LOOKUP = object()  # the revision argument's default: read it from the database
logger = logging.getLogger(__name__)

_specs: OrderedDict[tuple[int, str], PlanSpec] = OrderedDict()
_specs_lock = Lock()


def _digest(params) -> str:
    text = json.dumps(params, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def key(plan_id: int, revision: str, name: str, params=None) -> str:
    return f"plan:{plan_id}:{revision}:{name}:{_digest(params)}"


def _get(cache_key: str):
    try:
        return cache.get(cache_key, MISSING)
    except Exception:  # an unreachable cache is a slower page, not an error
        logger.warning("cache unavailable for %s", cache_key, exc_info=True)
        return MISSING


def _set(cache_key: str, value) -> None:
    try:
        cache.set(cache_key, value, TIMEOUT)
    except Exception:  # likewise
        logger.warning("cache unavailable for %s", cache_key, exc_info=True)


def revision_of(plan: Plan | int) -> str | None:
    """The plan's revision; None (keep nothing) for a plan this transaction has written, or
    one that is gone."""
    revision, dirty = revisions.current(plan.pk if isinstance(plan, Plan) else plan)
    return None if dirty else revision


def cached(plan: Plan, name: str, params, compute: Callable[[], object], revision=LOOKUP):
    """compute()'s result for the plan at its current revision (or `revision`, what
    revision_of gave the caller in this request, before it read anything else)."""
    revision = revision_of(plan) if revision is LOOKUP else revision
    if revision is None:
        return compute()
    cache_key = key(plan.pk, revision, name, params)
    value = _get(cache_key)
    if value is MISSING:
        value = compute()
        _set(cache_key, value)
    return value


def spec(plan: Plan, revision=LOOKUP) -> PlanSpec:
    """The plan's PlanSpec: from this process's memory, else the cache, else the database."""
    revision = revision_of(plan) if revision is LOOKUP else revision
    if revision is None:
        return plan.to_spec()
    memo = (plan.pk, revision)
    with _specs_lock:
        found = _specs.get(memo)
        if found is not None:
            _specs.move_to_end(memo)
            return found
    found = cached(plan, "spec", None, plan.to_spec, revision)
    with _specs_lock:
        _specs[memo] = found
        while len(_specs) > SPECS_IN_MEMORY:
            _specs.popitem(last=False)
    return found


def bundle(plan: Plan, mode: str = "nad") -> list[dict]:
    """What a rollout applies (manifests.render_bundle), once per plan revision and mode."""
    from planner import manifests

    revision = revision_of(plan)
    return cached(
        plan,
        "bundle",
        mode,
        lambda: manifests.render_bundle(spec(plan, revision), mode=mode),
        revision,
    )


def check_rendered(plan: Plan, mode: str, options: dict, revision=LOOKUP) -> list:
    """preflight.check_rendered over the plan's bundle, once per revision, mode and options."""
    from planner import preflight

    revision = revision_of(plan) if revision is LOOKUP else revision
    return cached(
        plan,
        "check-rendered",
        [mode, options],
        lambda: preflight.check_rendered(spec(plan, revision), mode, options),
        revision,
    )


def preflight_run(plan: Plan, objects: list[dict], facts) -> list:
    """preflight.run(objects, the plan's spec, facts), once per revision, objects and facts (a
    rollout of an unchanged plan to a cluster that did not change reuses it)."""
    from planner import preflight

    revision = revision_of(plan)
    return cached(
        plan,
        "preflight",
        [objects, facts],
        lambda: preflight.run(objects, spec(plan, revision), facts),
        revision,
    )
