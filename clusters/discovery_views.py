"""The cluster page's node-discovery panel: what the cluster reports about nodes and NICs,
compared with each bound plan, and importing it into a plan's inventory."""

import yaml
from django.contrib import messages
from django.shortcuts import redirect, render

from clusters import discovery, services, tasks
from clusters.views import (
    Poll,
    failed_after,
    get_cluster,
    operator_post,
    poll_state,
    poll_url,
    task_stamp,
)
from planner import inventory, plancache
from planner.views import viewer_required

SHOWN_ROWS = 60


def comparisons(cluster) -> list[dict]:
    result = []
    for plan in cluster.plans.order_by("name"):
        rows = discovery.compare(plancache.spec(plan), cluster.discovery)
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        different = [row for row in rows if row["status"] != "match"]
        result.append(
            {
                "plan": plan,
                "counts": counts,
                "rows": different[:SHOWN_ROWS],
                "more": max(0, len(different) - SHOWN_ROWS),
            }
        )
    return result


def _panel(request, cluster, poll: Poll, status: int = 200, **extra):
    context = {
        "cluster": cluster,
        "discovery_poll": poll,
        "discovery_failed": failed_after(cluster, cluster.discovered_at),
        "comparisons": comparisons(cluster),
        **extra,
    }
    return render(request, "clusters/partials/discovery.html", context, status=status)


@viewer_required
def discovery_panel(request, pk):
    cluster = get_cluster(pk)
    return _panel(
        request,
        cluster,
        poll_state(
            request, "cluster-discovery", cluster.pk, task_stamp(cluster.discovered_at, cluster)
        ),
    )


@operator_post
def cluster_discover(request, pk):
    cluster = get_cluster(pk)
    services.enqueue(lambda: tasks.discover_nodes.delay(cluster.pk))
    if not request.htmx:
        messages.info(request, f"Discovering the nodes of {cluster.name}.")
        return redirect(cluster)
    return _panel(
        request,
        cluster,
        Poll(
            poll_url("cluster-discovery", cluster.pk, task_stamp(cluster.discovered_at, cluster), 1)
        ),
    )


@operator_post
def discovery_import(request, pk, slug):
    cluster = get_cluster(pk)
    plan = cluster.plans.filter(slug=slug).first()
    if plan is None or not cluster.discovery:
        return _panel(
            request,
            cluster,
            Poll(),
            status=422,
            discovery_error="Nothing to import: discover the nodes first, for a bound plan.",
        )
    documents = discovery.inventory_nodes(plancache.spec(plan), cluster.discovery)
    try:
        counts = inventory.import_nodes(plan, inventory.parse_yaml(yaml.safe_dump(documents)))
    except inventory.InventoryError as error:
        reasons = "; ".join(
            f"{where}: {' '.join(msgs)}" for where, msgs in list(error.errors.items())[:5]
        )
        return _panel(
            request,
            cluster,
            Poll(),
            status=422,
            discovery_error=f"The import was refused: {reasons}",
        )
    note = (
        f"Imported into {plan.name}: {counts['nodes_created']} nodes created, {counts['nodes_updated']} updated, "
        f"{counts['nics_created'] + counts['nics_updated']} NICs written."
    )
    return _panel(request, cluster, Poll(), discovery_note=note)
