"""`python -m labsim serve --spec labsim/specs/seed.yaml --kubeconfig var/lab.kubeconfig`,
`python -m labsim faults --kubeconfig var/lab.kubeconfig [--set JSON | --clear [FAULT]]`"""

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from labsim.server import LabServer
from labsim.spec import SpecError, load_spec

DEFAULT_SPEC = Path(__file__).parent / "specs" / "seed.yaml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m labsim",
        description="Rail Studio lab cluster (a Kubernetes API "
        "server that behaves like a GPU cluster).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start a lab cluster and serve it over HTTPS")
    serve.add_argument("--spec", default=str(DEFAULT_SPEC), help="lab spec (YAML or JSON)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument(
        "--kubeconfig",
        default="var/lab.kubeconfig",
        help="where to write the kubeconfig for this lab",
    )
    serve.add_argument("--token", default=None, help="bearer token (random by default)")
    check = commands.add_parser("check-spec", help="load a spec and print its summary")
    check.add_argument("spec")
    faults = commands.add_parser("faults", help="show, set or clear a running lab's faults")
    faults.add_argument("--kubeconfig", required=True, help="the kubeconfig the lab wrote")
    action = faults.add_mutually_exclusive_group()
    action.add_argument("--set", metavar="JSON", help="e.g. '{\"latency_ms\": 250}'")
    action.add_argument(
        "--clear", nargs="?", const="", metavar="FAULT", help="clear one fault, or all of them"
    )
    return parser


def _faults(args) -> int:
    from labsim.testing import attach

    lab = attach(Path(args.kubeconfig))
    try:
        if args.set is not None:
            state = lab.set_faults(json.loads(args.set))
        elif args.clear is not None:
            state = lab.clear_faults(args.clear or None)
        else:
            state = lab.faults()
    except (ValueError, RuntimeError) as error:
        print(f"labsim: {error}", file=sys.stderr)
        return 1
    print(json.dumps(state, indent=2))
    return 0


async def _serve(args) -> int:
    spec = load_spec(args.spec)
    kubeconfig = Path(args.kubeconfig)
    server = LabServer(spec, host=args.host, port=args.port, token=args.token)
    await server.start()
    server.write_kubeconfig(kubeconfig)
    print(f"labsim: lab {spec.name!r} serving {server.url} (kubeconfig {kubeconfig})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await asyncio.wait_for(server.stop(), timeout=10)
    print("labsim: stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "check-spec":
            spec = load_spec(args.spec)
            rails = len(spec.nodes[0].rails) if spec.nodes else 0
            gpus = len(spec.nodes[0].gpus) if spec.nodes else 0
            print(f"{spec.name}: {len(spec.nodes)} nodes x {gpus} GPUs x {rails} rails")
            return 0
        if args.command == "faults":
            return _faults(args)
        return asyncio.run(_serve(args))
    except SpecError as error:
        print(f"labsim: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
