"""ClickHouse's HTTP interface, served by chdb, so clickhouse-connect can be tested here.

No ClickHouse server can be installed on this machine, but chdb is the ClickHouse engine
itself. This small server speaks the part of the HTTP protocol clickhouse-connect uses
(query in the body or the `query` parameter, INSERT data in the body, `param_*`
server-side bindings, settings as URL parameters, `FORMAT Native` results) and hands
every statement to chdb unchanged. So `HttpClient` (the production path: clickhouse-
connect's binder, raw_insert and Native decoding) runs against the real engine.
It is a test tool, not a ClickHouse replacement: no auth, one shared chdb session.
"""

from __future__ import annotations

import re
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# URL parameters that are part of the protocol; every other one is a setting.
PROTOCOL_PARAMETERS = {
    "query", "query_id", "session_id", "session_timeout", "session_check", "database", "compress",
    "decompress", "user", "password", "default_format", "wait_end_of_query", "client_protocol_version",
}  # fmt: skip
TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)


class ClickHouseHTTP:
    """`ClickHouseHTTP(path).start()` serves chdb on 127.0.0.1 at a free `port`."""

    def __init__(self, path: str, port: int = 0) -> None:
        from chdb import session

        self.session = session.Session(path)
        self._settings: dict[str, str] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.handle(self)

            def do_POST(self) -> None:
                server.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port: int = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="clickhouse-http", daemon=True)

    def start(self) -> ClickHouseHTTP:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.session.close()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        args = {key: values[-1] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        body = raw.decode()
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            # Long parameter values (10000 ids) come as form fields, the query among them.
            args.update(_form_fields(content_type, raw))
            body = ""
        # With `query` in the URL the body is the INSERT's data, sent after the query text.
        sql = f"{args['query']}\n{body}" if "query" in args else body
        params = {key.removeprefix("param_"): value for key, value in args.items() if key.startswith("param_")}
        settings = {k: v for k, v in args.items() if k not in PROTOCOL_PARAMETERS and not k.startswith("param_")}
        fmt = "TabSeparated"
        if not sql.lstrip().upper().startswith("INSERT") and (match := TRAILING_FORMAT.search(sql)):
            fmt, sql = match.group(1), sql[: match.start()]
        try:
            for name, value in settings.items():
                if self._settings.get(name) != value:  # every request repeats them: SET once
                    self.session.query(f"SET {name} = {value if value.lstrip('-').isdigit() else repr(value)}")
                    self._settings[name] = value
            out = self.session.query(sql, fmt, params=params or None).bytes()
        except Exception as exc:  # noqa: BLE001 - any engine error: status 500, the message as the body (as ClickHouse)
            message = str(exc).encode()
            request.send_response(500)
            request.send_header("X-ClickHouse-Exception-Code", "1")
            request.send_header("Content-Length", str(len(message)))
            request.end_headers()
            request.wfile.write(message)
            return
        request.send_response(200)
        request.send_header("X-ClickHouse-Format", fmt)
        request.send_header("X-ClickHouse-Timezone", "UTC")
        request.send_header("Content-Length", str(len(out)))
        request.end_headers()
        request.wfile.write(out)


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = part.get_payload(decode=True).decode()
    return fields


def main() -> None:
    """`python -m tests.clickhouse_http DATA_DIR [PORT]`: serve until interrupted (for bench/)."""
    import sys
    import time

    server = ClickHouseHTTP(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0).start()
    print(server.port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
