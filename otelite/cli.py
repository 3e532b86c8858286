"""The `otelite` command line."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext

from collector.pipeline import Pipeline
from collector.writer import BatchWriter
from otelite.config import Config, ConfigError, load_config
from otelite.server import Otelite, is_loopback
from otelite.transfer import export_lines, import_lines
from store import open_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="otelite", description="OpenTelemetry collector and query API for AI-agent traces")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="receive OTLP traces and serve the API")
    _common(serve)
    serve.add_argument("--grpc-port", type=int, help="OTLP/gRPC port (default 4317)")
    serve.add_argument("--http-port", type=int, help="OTLP/HTTP and API port (default 4318)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--insecure", action="store_true", help="allow a non-loopback host without auth")

    stats = commands.add_parser("stats", help="print what the database holds")
    _common(stats)

    export = commands.add_parser("export", help="write stored spans as OTLP-JSON lines")
    _common(export)
    export.add_argument("--project", help="only this project (default: all)")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")

    import_ = commands.add_parser("import", help="read OTLP-JSON lines (a file, or - for standard input)")
    _common(import_)
    import_.add_argument("file")
    import_.add_argument("--project", help="project for every span (default: as on ingest)")

    args = parser.parse_args(argv)
    try:
        config = load_config(
            args.config,
            db=args.db,
            **({"grpc_port": args.grpc_port, "http_port": args.http_port, "host": args.host} if args.command == "serve" else {}),
        )
    except (ConfigError, OSError) as exc:
        print(f"otelite: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(config, args.insecure)
    if args.command == "export":
        return _export(config, args.project, args.output)
    if args.command == "import":
        return _import(config, args.file, args.project)
    return _stats(config)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="path to config.yaml")
    parser.add_argument("--db", help="SQLite database path (default ./otelite.db)")


def _serve(config: Config, insecure: bool) -> int:
    if not is_loopback(config.host) and not insecure:
        print(
            f"otelite: refusing to serve on non-loopback address {config.host} without auth; "
            "configure users in config.yaml or pass --insecure",
            file=sys.stderr,
        )
        return 2
    try:
        server = Otelite(config)
    except OSError as exc:
        print(f"otelite: {exc}", file=sys.stderr)
        return 1
    server.serve()
    return 0


def _stats(config: Config) -> int:
    store = open_store(config.db)
    try:
        print(f"database: {config.db}")
        print(f"spans: {store.count_spans()}")
    finally:
        store.close()
    return 0


def _export(config: Config, project: str | None, output: str | None) -> int:
    store = open_store(config.db)
    try:
        with open(output, "wb") if output else nullcontext(sys.stdout.buffer) as out:
            for line in export_lines(store.iter_spans(project)):
                out.write(line)
    finally:
        store.close()
    return 0


def _import(config: Config, path: str, project: str | None) -> int:
    store = open_store(config.db, synchronous=config.synchronous)
    writer = BatchWriter(store)
    try:
        pipeline = Pipeline(writer, config.default_project, config.limits.max_spans_per_request)
        with open(path, "rb") if path != "-" else nullcontext(sys.stdin.buffer) as lines:
            result = import_lines(lines, pipeline, project)
    finally:
        writer.close()
        store.close()
    print(f"imported {result.accepted} spans, rejected {result.rejected}")
    if result.error_message:
        print(result.error_message, file=sys.stderr)
    return 0 if not result.error_message else 1


if __name__ == "__main__":
    sys.exit(main())
