"""schemathesis extension hooks for the suite's run (loaded through schemathesis.toml).

YAML answers of the API are text: a stream of Kubernetes objects (`---`-separated documents)
from the manifests endpoint, a plan document from export. The OpenAPI description says so
(`type: string`), and this deserializer hands schemathesis the text, as described; its
built-in YAML reader takes single documents only."""

import schemathesis
from schemathesis.core.media_types import YAML_MEDIA_TYPES


@schemathesis.deserializer(*YAML_MEDIA_TYPES)  # all of them: the first that matches is used
def yaml_text(ctx, response):
    return response.content.decode(response.encoding or "utf-8")
