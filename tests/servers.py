"""Helpers for the integration tests that run real servers: `langgraph dev`, `chroma run`, the
llama.cpp server (see `mmrag.llm_server`) and a recording stand-in for the LangSmith API.

Every server runs on a free loopback port in its own process group, is polled until ready with a
deadline, and is always stopped (the fixtures in conftest.py wrap these in try/finally).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import os
import shutil
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mmrag.llm_server import LlamaServer, ManagedServer, ServerError, free_port, http_get

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

__all__ = [
    "LangSmithRecorder",
    "LlamaServer",
    "ManagedServer",
    "ServerError",
    "chroma_server",
    "free_port",
    "http_get",
    "langgraph_dev",
    "listening_pids",
]


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(inode)
    return inodes


def listening_pids(port: int) -> set[int]:
    """Pids of the processes holding a listening socket on `port` (Linux /proc)."""
    wanted = {f"socket:[{i}]" for i in _listening_inodes(port)}
    pids: set[int] = set()
    if not wanted:
        return pids
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    pids.add(int(proc.name))
                    break
        except OSError:
            continue
    return pids


def owned_by(server: ManagedServer, port: int) -> bool:
    """True when the socket listening on `port` belongs to `server`'s process group."""
    assert server.proc is not None
    for pid in listening_pids(port):
        try:
            if os.getpgid(pid) == server.proc.pid:
                return True
        except ProcessLookupError:
            continue
    return False


def langgraph_dev(workdir: Path, port: int | None = None, env: dict[str, str] | None = None) -> ManagedServer:
    """A `langgraph dev` server for `workdir/langgraph.json` (not started). `workdir` should be a
    scratch copy: the server writes `.langgraph_api/` there."""
    port = port or free_port()
    cmd = [
        str(BIN / "langgraph"), "dev",
        "--port", str(port), "--host", "127.0.0.1",
        "--no-browser", "--no-reload",
        "--config", str(workdir / "langgraph.json"),
    ]  # fmt: skip
    server_env = {
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "LANGSMITH_TRACING": "false",
        "HF_HUB_OFFLINE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **(env or {}),
    }
    srv = ManagedServer(cmd, f"http://127.0.0.1:{port}/ok", env=server_env, cwd=workdir, start_timeout=180, name="langgraph-dev")
    srv.port = port  # type: ignore[attr-defined]
    srv.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return srv


def chroma_server(path: Path, port: int | None = None) -> ManagedServer:
    """A `chroma run` server persisting to `path` (not started)."""
    port = port or free_port()
    chroma = shutil.which("chroma", path=str(BIN)) or "chroma"
    cmd = [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    srv = ManagedServer(
        cmd, f"http://127.0.0.1:{port}/api/v2/heartbeat", env={"ANONYMIZED_TELEMETRY": "False"}, start_timeout=60, name="chroma"
    )
    srv.port = port  # type: ignore[attr-defined]
    srv.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return srv


# -- LangSmith stand-in --------------------------------------------------------------------------
class LangSmithRecorder:
    """A local HTTP server that answers like the LangSmith API and records every trace upload.

    `multipart=True` advertises the multipart endpoint (`/runs/multipart`); `False` makes the client
    use `/runs/batch`. `runs()` merges each run's post and patch into one dict.
    """

    def __init__(self, multipart: bool = True) -> None:
        self.multipart = multipart
        self.requests: list[dict[str, Any]] = []  # {"method","path","bytes","encoding"}
        self.posts: dict[str, dict[str, Any]] = {}
        self.patches: dict[str, dict[str, Any]] = {}
        self.attachments: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "LangSmithRecorder":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what was recorded --------------------------------------------------------------------
    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]

    def upload_bytes(self) -> int:
        return sum(r["bytes"] for r in self.requests if r["path"].startswith("/runs"))

    def runs(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            out = {rid: dict(run) for rid, run in self.posts.items()}
            for rid, patch in self.patches.items():
                out.setdefault(rid, {}).update({k: v for k, v in patch.items() if v is not None})
        return out

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.2)
        return False

    # -- recording ----------------------------------------------------------------------------
    def _record_run(self, op: str, run: dict[str, Any]) -> None:
        rid = str(run.get("id"))
        with self._lock:
            target = self.posts if op == "post" else self.patches
            target.setdefault(rid, {}).update(run)

    def _ingest_multipart(self, content_type: str, body: bytes) -> None:
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition") or ""
            payload = part.get_payload(decode=True) or b""
            pieces = name.split(".")
            if pieces[0] == "attachment" and len(pieces) >= 3:
                with self._lock:
                    self.attachments.setdefault(pieces[1], {})[pieces[2]] = len(payload)
                continue
            if pieces[0] not in ("post", "patch") or len(pieces) < 2:
                continue
            value = json.loads(payload) if payload else None
            if len(pieces) == 2:
                self._record_run(pieces[0], {**(value or {}), "id": pieces[1]})
            else:
                self._record_run(pieces[0], {"id": pieces[1], pieces[2]: value})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    raw = b"".join(chunks)
                else:
                    raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rec.requests.append(
                    {"method": self.command, "path": self.path, "bytes": len(raw), "encoding": self.headers.get("Content-Encoding")}
                )
                if self.headers.get("Content-Encoding") == "zstd":
                    import zstandard

                    raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
                elif self.headers.get("Content-Encoding") == "gzip":
                    import gzip

                    raw = gzip.decompress(raw)
                return raw

            def _send(self, code: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                rec.requests.append({"method": "GET", "path": self.path, "bytes": 0, "encoding": None})
                if self.path.startswith("/info"):
                    self._send(200, {
                        "version": "0.0.0-recorder",
                        "instance_flags": {"zstd_compression_enabled": False},
                        "batch_ingest_config": {
                            "use_multipart_endpoint": rec.multipart, "size_limit": 100, "size_limit_bytes": 20_000_000,
                            "scale_up_nthreads_limit": 1, "scale_up_qsize_trigger": 1000, "scale_down_nempty_trigger": 4,
                        },
                    })  # fmt: skip
                else:
                    self._send(404, {"detail": "not recorded"})

            def do_POST(self) -> None:  # noqa: N802
                body = self._body()
                if self.path.startswith("/runs/multipart"):
                    rec._ingest_multipart(self.headers.get("Content-Type", ""), body)
                    self._send(202, {})
                elif self.path.startswith("/runs/batch"):
                    data = json.loads(body or b"{}")
                    for op in ("post", "patch"):
                        for run in data.get(op) or []:
                            rec._record_run(op, run)
                    self._send(202, {})
                elif self.path.rstrip("/") == "/runs":
                    rec._record_run("post", json.loads(body or b"{}"))
                    self._send(202, {})
                else:
                    self._send(404, {"detail": "not recorded"})

            def do_PATCH(self) -> None:  # noqa: N802
                body = self._body()
                if self.path.startswith("/runs/"):
                    rec._record_run("patch", {**json.loads(body or b"{}"), "id": self.path.rsplit("/", 1)[1]})
                    self._send(202, {})
                else:
                    self._send(404, {"detail": "not recorded"})

        return Handler
