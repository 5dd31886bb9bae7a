"""The cluster pages' forms: the API's serializers (clusters.api.serializers) check what a
person typed, through railstudio.web.forms, so the page and the API say the same thing;
clusters.services does the real work."""

from __future__ import annotations

from rest_framework import serializers

from clusters import kubeconfigs
from clusters.api.serializers import (
    BindRequestSerializer,
    ClusterSerializer,
    RollbackRequestSerializer,
    RolloutOptionsSerializer,
    RolloutRequestSerializer,
)
from clusters.models import ClusterMode
from planner.models import Plan
from railstudio import fields, numbers
from railstudio.web.forms import PageForm, posted

KUBECONFIG_MAX_BYTES = 1024 * 1024


class UploadError(ValueError):
    """An uploaded file that cannot be a kubeconfig."""


def read_upload(upload) -> str:
    """The text of an uploaded kubeconfig, or UploadError."""
    if upload.size > KUBECONFIG_MAX_BYTES:
        raise UploadError("A kubeconfig larger than 1 MB is not a kubeconfig.")
    try:
        return upload.read().decode("utf-8")
    except UnicodeDecodeError:
        raise UploadError("The file is not UTF-8 text (is it a kubeconfig?).") from None


def kubeconfig_text(data, files) -> tuple[str, dict[str, str]]:
    """The kubeconfig from an upload (preferred) or the text box; errors by field."""
    upload = files.get("kubeconfig_file")
    if upload is None:
        return data.get("kubeconfig", ""), {}
    try:
        return read_upload(upload), {}
    except UploadError as error:
        return "", {"kubeconfig_file": str(error)}


def context_names(text: str) -> tuple[list[str], str]:
    """(contexts, current context) of a kubeconfig; KubeconfigError when it is not one."""
    config = kubeconfigs.load(text)
    return kubeconfigs.contexts(config), kubeconfigs.current_context(config)


REGISTRATION_TEXTS = ("name", "description", "kubeconfig", "context", "mode")


def registration_form(post=None, files=None) -> PageForm:
    """The New-cluster page's form: the API's ClusterSerializer on what was posted, the
    kubeconfig from an upload (preferred) or the text box."""
    if post is None:
        return PageForm(typed={"mode": ClusterMode.NAD, "plans": []})
    data = posted(post, booleans=("in_cluster",), lists=("plans",), texts=REGISTRATION_TEXTS)
    text, upload_errors = kubeconfig_text(post, files or {})
    if files and files.get("kubeconfig_file") is not None:
        data["kubeconfig"] = text
    form = PageForm(
        ClusterSerializer(data=data), typed={**data, "kubeconfig": post.get("kubeconfig", "")}
    )
    for name, message in upload_errors.items():
        form.add_error(name, message)
    form.kubeconfig_given = text  # pasted or uploaded (not a field name: see PageForm)
    return form


def rollout_form(post=None) -> PageForm:
    """A cluster page's "Roll out <plan>": the API's rollout request."""
    if post is None:
        return PageForm(typed={})
    return PageForm(RolloutRequestSerializer(data=_rollout_data(post, "plan")))


def _rollout_data(post, *texts) -> dict:
    booleans = ("dry_run", "prune", "force", "adopt")
    return posted(post, booleans=booleans, texts=("force_reason", "adopt_reason", *texts))


class PlanRolloutSerializer(RolloutOptionsSerializer):
    """A plan page's roll-out: to one bound cluster (its id) or to all bound ones."""

    cluster = fields.StrictCharField(
        error_messages={
            "required": "Choose a cluster, or all bound clusters.",
            "blank": "Choose a cluster, or all bound clusters.",
        }
    )

    def validate_cluster(self, value) -> list:
        plan = self.context["plan"]
        value = value.strip()
        if value == "all":
            clusters = list(plan.clusters.all())
            if not clusters:
                raise serializers.ValidationError(
                    "The plan is bound to no cluster; bind one on the cluster's page."
                )
            return clusters
        cluster = plan.clusters.filter(pk=value).first() if numbers.is_id(value) else None
        if cluster is None:
            raise serializers.ValidationError(f"No cluster '{value}' is bound to this plan.")
        return [cluster]


def plan_rollout_form(post, plan: Plan) -> PageForm:
    data = _rollout_data(post, "cluster")
    return PageForm(PlanRolloutSerializer(data=data, context={"plan": plan}))


def rollback_form(post=None) -> PageForm:
    if post is None:
        return PageForm(typed={})
    data = posted(post, booleans=("prune", "force"), texts=("reason",))
    return PageForm(RollbackRequestSerializer(data=data))


def bind_form(post) -> PageForm:
    return PageForm(BindRequestSerializer(data=posted(post, texts=("plan",))))
