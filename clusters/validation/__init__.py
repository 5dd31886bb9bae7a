"""Rail validation: prove every rail carries traffic between every pair of nodes, at RDMA line
rate, and tie each failure to its cause.

A run deploys a probe DaemonSet (clusters.validation.probe) on the chosen nodes, reads each
node's agent (agent/), sweeps ICMP over every rail and runs RDMA between ring neighbours (or
more pairs), all through fixed, batched exec commands (commands), parses the tools' output
(parsers), builds per-rail matrices (results) and findings (findings), and draws heatmaps
(heatmap). Everything but clusters.validation.runner is pure.
"""

MODES = ("quick", "full", "strict")
