"""Rail Studio's node agent: runs in the probe pods on a cluster's nodes, reads the kubelet
PodResources API and the pod's sysfs, and prints what it found as JSON.

Standard library and grpcio/protobuf only: nothing of the Django apps, so it runs in any image
with Python 3.11 and those two packages (the product's image has them).

    python -m agent                 # one JSON document on stdout
    python -m agent --idle          # the container's main process: wait for SIGTERM
"""

AGENT_NAME = "railstudio-agent"
OUTPUT_VERSION = 1
