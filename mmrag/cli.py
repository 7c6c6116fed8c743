"""The `mmrag` command line. Each area owns its sub-commands in its own module, which exposes
`register(subparsers)`; this file only dispatches."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# Modules that add sub-commands. A module that fails to import is reported, not fatal, so one
# broken area never takes the whole CLI down.
COMMAND_MODULES = (
    "mmrag.stores.cli",  # ingest, stats, search
    "mmrag.encoders.cli",  # train-encoders
    "mmrag.graph.cli",  # ask, train-fusion, demo
    "mmrag.evals.cli",  # eval, bench
    "mmrag.demo_cli",  # demo, design
    "mmrag.evals.bench_cli",  # bench ingest, query, scale
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmrag", description="Open multimodal RAG engine.")
    parser.add_argument("--version", action="version", version=f"mmrag {__import__('mmrag').__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that area is not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a clear message, not a traceback, for user errors
        from mmrag.errors import ServiceUnavailable, UserError

        if isinstance(exc, (UserError, ServiceUnavailable)):
            print(f"mmrag: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    raise SystemExit(main())
