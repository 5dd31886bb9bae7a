"""The cluster page's validation card."""

from django import template

from clusters.models import ValidationSchedule
from clusters.validation import MODES

register = template.Library()
RECENT_RUNS = 8


@register.inclusion_tag("clusters/partials/cluster_validations.html", takes_context=True)
def cluster_validations(context, cluster):
    return {
        "cluster": cluster,
        "runs": cluster.validations.select_related("created_by").defer("findings", "facts")[
            :RECENT_RUNS
        ],
        "schedule": ValidationSchedule.objects.filter(cluster=cluster).first(),
        "plans": list(cluster.plans.order_by("name")),
        "modes": MODES,
        "can_operate": context.get("can_operate"),
        "csrf_token": context.get("csrf_token"),
    }
