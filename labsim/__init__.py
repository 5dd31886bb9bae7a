"""labsim: a lab Kubernetes cluster on loopback that behaves like a GPU cluster.

It serves the Kubernetes API over HTTPS (aiohttp) and simulates what Multus, the SR-IOV
device plugin, SR-IOV CNI and whereabouts do on real nodes, so the official `kubernetes`
client and kubectl work against it unchanged. Start it with `python -m labsim serve`, or
from tests with `labsim.testing.running_lab`. It imports nothing from the Django apps.
"""

__version__ = "0.1.0"
