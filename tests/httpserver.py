"""A small HTTP server on 127.0.0.1 for download tests.

    log = RequestLog()
    with serve(tmp_path, fail={"/gone.bin": 404}, log=log) as base_url:
        urllib.request.urlopen(f"{base_url}/data.bin")
    assert log.count("/data.bin") == 1

`serve` takes either a directory (files are served by their relative path) or a
mapping of URL path to bytes. It honours `Range: bytes=N-` / `bytes=N-M` with 206
answers, can force an error status for given paths, can send a truncated body (the
full Content-Length, then fewer bytes, then close), and records every request.
"""

import mimetypes
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    range: str | None  # the request's Range header, if any


@dataclass
class RequestLog:
    """Every request the server saw, in order."""

    hits: list[Hit] = field(default_factory=list)

    def count(self, path: str) -> int:
        return sum(hit.path == path for hit in self.hits)

    def ranges(self, path: str) -> list[str | None]:
        return [hit.range for hit in self.hits if hit.path == path]


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """`bytes=N-` or `bytes=N-M` -> (first, last) inclusive; None when unsatisfiable."""
    unit, _, spec = header.partition("=")
    first_text, _, last_text = spec.partition("-")
    if unit.strip() != "bytes" or not first_text.isdigit():
        raise ValueError(f"unsupported Range header: {header!r}")
    first = int(first_text)
    last = min(int(last_text), size - 1) if last_text.isdigit() else size - 1
    return (first, last) if first <= last else None


def _make_handler(
    lookup: Callable[[str], bytes | None],
    fail: Mapping[str, int],
    truncate: Mapping[str, int],
    ranges: bool,
    log: RequestLog,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def log_message(self, format: str, *args) -> None:
            pass  # keep pytest output clean; the RequestLog is the record

        def _answer(self, send_body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            range_header = self.headers.get("Range")
            log.hits.append(Hit(self.command, path, range_header))

            body = lookup(path)
            status = fail.get(path, 200 if body is not None else 404)
            if status != 200:
                self._send_error_status(status)
                return

            first, last = 0, len(body) - 1
            if ranges and range_header:
                satisfiable = _parse_range(range_header, len(body))
                if satisfiable is None:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                first, last = satisfiable
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {first}-{last}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[first : last + 1]
            content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Accept-Ranges", "bytes" if ranges else "none")
            if path in truncate:
                # Promise the whole payload, deliver part of it, hang up.
                payload = payload[: truncate[path]]
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if send_body:
                self.wfile.write(payload)

        def _send_error_status(self, status: int) -> None:
            message = f"forced status {status}".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(message)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client hanging up early (ffmpeg does once it has what it needs) is not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve(
    source: Path | Mapping[str, bytes],
    *,
    fail: Mapping[str, int] | None = None,
    truncate: Mapping[str, int] | None = None,
    ranges: bool = True,
    log: RequestLog | None = None,
) -> Iterator[str]:
    """Serve `source` on 127.0.0.1 at a free port; yields the base URL (no trailing slash).

    source: a directory, or a mapping of URL path ("/a/b.bin") to content.
    fail: URL path -> HTTP status to answer instead of the content (e.g. 404, 500).
    truncate: URL path -> number of body bytes actually sent before closing.
    ranges: False makes the server ignore Range headers (always 200, whole body).
    log: receives one Hit per request.
    """
    if isinstance(source, Mapping):
        routes = dict(source)

        def lookup(path: str) -> bytes | None:
            return routes.get(path)

    else:
        root = Path(source).resolve()

        def lookup(path: str) -> bytes | None:
            file = (root / path.lstrip("/")).resolve()
            if not file.is_relative_to(root) or not file.is_file():
                return None
            return file.read_bytes()

    handler = _make_handler(lookup, fail or {}, truncate or {}, ranges, log or RequestLog())
    server = _Server(("127.0.0.1", 0), handler)
    # shutdown() waits up to one poll interval; the default 0.5 s would dominate the tests.
    poll = {"poll_interval": 0.01}
    thread = threading.Thread(target=server.serve_forever, kwargs=poll, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
