"""The `otelite` command line."""

from __future__ import annotations

import argparse
import getpass
import re
import sqlite3
import sys
import time
from contextlib import nullcontext

from otelite.collector.ingest import Ingest
from otelite.config import Config, ConfigError, load_config
from otelite.lean import refuse_dataframe_libraries
from otelite.server import Otelite, is_loopback, preparer_for
from otelite.store import Store, open_store
from otelite.transfer import export_lines, import_lines

# The defaults, for the help texts (they are written once, in otelite/config.py).
DEFAULTS = Config()


def main(argv: list[str] | None = None) -> int:
    # Before a store is opened: opening SQLite imports sqlite-utils. Not at import of
    # this module, which would take numpy away from a process that imports it (tests).
    refuse_dataframe_libraries()
    parser = argparse.ArgumentParser(
        prog="otelite", description="OpenTelemetry collector and query API for AI-agent traces"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="receive OTLP traces and serve the API")
    _common(serve)
    serve.add_argument("--grpc-port", type=int, help=f"OTLP/gRPC port (default {DEFAULTS.grpc_port})")
    serve.add_argument("--http-port", type=int, help=f"OTLP/HTTP and API port (default {DEFAULTS.http_port})")
    serve.add_argument("--host", help=f"address to bind (default {DEFAULTS.host})")
    serve.add_argument("--insecure", action="store_true", help="allow a non-loopback host without auth")
    serve.add_argument(
        "--ingest-processes",
        type=int,
        help=f"worker processes for ingest (default {DEFAULTS.writer.processes} on SQLite; 0: all in this process)",
    )

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

    prune = commands.add_parser(
        "prune", help="delete whole traces that are too old, or until the database is small enough"
    )
    _common(prune)
    prune.add_argument(
        "--older-than", type=_duration, help="age like 7d, 12h, 30m, 2w: delete traces whose newest span ended before"
    )
    prune.add_argument(
        "--max-db-mb", type=int, help="then delete the oldest traces until the data fits in this many MiB"
    )

    hash_pw = commands.add_parser("hash-password", help="print a password hash for a user in config.yaml")
    hash_pw.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin instead of prompting"
    )

    commands.add_parser("new-token", help="print a new ingest token and the hash that goes into config.yaml")

    args = parser.parse_args(argv)
    if args.command == "hash-password":
        return _hash_password(args.password_stdin)
    if args.command == "new-token":
        return _new_token()
    try:
        config = load_config(args.config, store=args.store, **(_serve_flags(args) if args.command == "serve" else {}))
    except (ConfigError, OSError) as exc:
        print(f"otelite: {exc}", file=sys.stderr)
        return 1
    try:
        if args.command == "serve":
            return _serve(config, args.insecure)
        if args.command == "export":
            return _export(config, args.project, args.output)
        if args.command == "import":
            return _import(config, args.file, args.project)
        if args.command == "prune":
            return _prune(config, args.older_than, args.max_db_mb)
        return _stats(config)
    except StoreUnavailable as exc:
        print(f"otelite: {exc}", file=sys.stderr)
        return 1


def _serve_flags(args: argparse.Namespace) -> dict[str, object]:
    flags: dict[str, object] = {"grpc_port": args.grpc_port, "http_port": args.http_port, "host": args.host}
    if args.ingest_processes is not None:
        flags["writer"] = {"processes": args.ingest_processes}
    return flags


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="path to config.yaml")
    parser.add_argument(
        "--store",
        "--db",
        dest="store",
        help=f"a SQLite file (default {DEFAULTS.store}), clickhouse://user:pass@host:8123/db or chdb:///data/dir",
    )


def refusal(config: Config, insecure: bool) -> str | None:
    """Why `serve` must not start with this config, or None."""
    if not is_loopback(config.host) and not config.auth_configured and not insecure:
        return (
            f"refusing to serve on non-loopback address {config.host} without auth; "
            "configure users (or ingest_tokens) in config.yaml or pass --insecure"
        )
    return None


def _serve(config: Config, insecure: bool) -> int:
    if reason := refusal(config, insecure):
        print(f"otelite: {reason}", file=sys.stderr)
        return 2
    try:
        server = Otelite(config)
    except OSError as exc:  # a port taken, a directory that cannot be written
        print(f"otelite: {exc}", file=sys.stderr)
        return 1
    except (sqlite3.Error, ValueError) as exc:  # not a database, not a store URL
        print(f"otelite: {config.store_label}: {exc}", file=sys.stderr)
        return 1
    server.serve()
    return 0


# What opening a store (or binding the ports) raises for a path, file or URL that is not
# usable: one line and exit status 1, not a traceback.
OPEN_ERRORS = (OSError, sqlite3.Error, ValueError)


class StoreUnavailable(Exception):
    pass


def _open(config: Config) -> Store:
    try:
        return open_store(config.store, synchronous=config.synchronous)
    except OPEN_ERRORS as exc:
        raise StoreUnavailable(f"{config.store_label}: {exc}") from None


def _stats(config: Config) -> int:
    store = _open(config)
    try:
        print(f"database: {config.store_label}")
        print(f"spans: {store.count_spans()}")
    finally:
        store.close()
    return 0


def _export(config: Config, project: str | None, output: str | None) -> int:
    store = _open(config)
    try:
        with open(output, "wb") if output else nullcontext(sys.stdout.buffer) as out:
            for line in export_lines(store.iter_spans(project)):
                out.write(line)
    finally:
        store.close()
    return 0


def _import(config: Config, path: str, project: str | None) -> int:
    store = _open(config)
    ingest = Ingest(preparer_for(config), store, config.writer.max_queue_bytes)
    try:
        with open(path, "rb") if path != "-" else nullcontext(sys.stdin.buffer) as lines:
            result = import_lines(lines, ingest, project)
    finally:
        ingest.close()
        store.close()
    print(f"imported {result.accepted} spans, rejected {result.rejected}")
    if result.error_message:
        print(result.error_message, file=sys.stderr)
    return 0 if not result.error_message else 1


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def _duration(text: str) -> int:
    """'7d' -> nanoseconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 7d, 12h, 30m, 90s or 2w")
    return int(match.group(1)) * DURATION_UNITS[match.group(2)] * 10**9


def _prune(config: Config, older_than_ns: int | None, max_db_mb: int | None) -> int:
    if older_than_ns is None and max_db_mb is None:
        print("otelite prune: give --older-than and/or --max-db-mb", file=sys.stderr)
        return 2
    store = _open(config)
    try:
        result = store.prune(
            older_than_ns=time.time_ns() - older_than_ns if older_than_ns is not None else None,
            max_bytes=max_db_mb * 1024 * 1024 if max_db_mb is not None else None,
        )
        print(
            f"pruned {result.traces} traces ({result.spans} spans, {result.feedback} feedback); {store.used_bytes() // 1024} KiB in use"
        )
    finally:
        store.close()
    return 0


def _hash_password(from_stdin: bool) -> int:
    from otelite.auth import hash_password

    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("otelite: the passwords differ", file=sys.stderr)
            return 2
    if not password:
        print("otelite: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def _new_token() -> int:
    from otelite.auth import new_token

    token, token_hash = new_token()
    print(f"token (give to the exporter as 'authorization: Bearer <token>'): {token}")
    print(f"config.yaml:  ingest_tokens: [{{project: <project>, token_hash: {token_hash}}}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
