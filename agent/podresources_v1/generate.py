"""Regenerate api_pb2.py and api_pb2_grpc.py from api.proto (needs grpcio-tools, a dev
dependency): `.venv/bin/python agent/podresources_v1/generate.py`. The generated files are
committed, so the agent needs only grpcio and protobuf at run time."""

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO = "agent/podresources_v1/api.proto"


def main() -> int:
    return protoc.main(
        ["protoc", f"-I{ROOT}", f"--python_out={ROOT}", f"--grpc_python_out={ROOT}", PROTO]
    )


if __name__ == "__main__":
    sys.exit(main())
