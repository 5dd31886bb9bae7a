"""`python -m agent`: one JSON document with the node's view, for Rail Studio to read over exec.

    {"agent": "railstudio-agent", "version": 1, "node": "gpu-node-0",
     "netdevs": [{"name": "net1", "kind": "vf", "pci": "0000:18:00.2", "numa_node": 0, ...}],
     "pod_resources": {"pods": [...], "error": null}}

A PodResources failure is reported in the document (pod_resources.error), not as a failed
exit, so the sysfs half still arrives. `--idle` is the container's main process.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Mapping

from agent import AGENT_NAME, OUTPUT_VERSION, podresources, sysfs


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """Errors and help go to the streams main() was given, not to sys.stderr and exit()."""

    def __init__(self, out, **kwargs):
        super().__init__(**kwargs)
        self.out = out

    def error(self, message):
        raise UsageError(f"{self.format_usage()}{self.prog}: error: {message}\n")

    def exit(self, status=0, message=None):
        raise UsageError(message or "") if status else SystemExit(0)

    def _print_message(self, message, file=None):
        if message:
            self.out.write(message)


def _parser(out) -> argparse.ArgumentParser:
    parser = _Parser(out, prog="python -m agent", description=__doc__.split("\n")[0])
    parser.add_argument("--sys", default="/sys", help="sysfs root (default /sys)")
    parser.add_argument(
        "--pod-resources",
        default=podresources.DEFAULT_SOCKET,
        help=f"kubelet PodResources socket (default {podresources.DEFAULT_SOCKET})",
    )
    parser.add_argument("--node", default=None, help="node name (default: $NODE_NAME)")
    parser.add_argument("--timeout", type=float, default=5.0, help="PodResources call timeout")
    parser.add_argument("--no-pod-resources", action="store_true", help="read sysfs only")
    parser.add_argument("--idle", action="store_true", help="wait for SIGTERM, print nothing")
    return parser


def collect(args, environ: Mapping[str, str]) -> dict:
    document = {
        "agent": AGENT_NAME,
        "version": OUTPUT_VERSION,
        "node": args.node or environ.get("NODE_NAME") or None,
        "netdevs": sysfs.read_netdevs(args.sys),
        "pod_resources": {"pods": [], "error": None},
    }
    if args.no_pod_resources:
        document["pod_resources"]["error"] = "not asked (--no-pod-resources)"
        return document
    try:
        document["pod_resources"]["pods"] = podresources.list_pods(args.pod_resources, args.timeout)
    except podresources.PodResourcesError as error:
        document["pod_resources"]["error"] = str(error)
    return document


def _idle() -> int:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    return 0


def main(argv=None, environ: Mapping[str, str] | None = None, stdout=None, stderr=None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        args = _parser(out).parse_args(argv)
    except UsageError as error:
        err.write(str(error))
        return 2
    except SystemExit:  # --help
        return 0
    if args.idle:
        return _idle()
    document = collect(args, os.environ if environ is None else environ)
    out.write(json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n")
    out.flush()
    return 0
