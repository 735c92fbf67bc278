"""Run a workflow on a ComfyUI server through its HTTP API, as the frontend does: upload input
files, queue the prompt with a client id, follow its progress on the websocket, fetch the outputs.

Endpoints used (ComfyUI 0.3.64): GET /object_info, POST /upload/image, POST /prompt, GET /ws,
GET /history/{id}, GET /view, POST /interrupt, POST /queue.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

import requests
import websocket

from ..core.errors import InputError
from .workflow_format import apply_settings, is_api_format, is_ui_format, parse_upload, ui_to_api

REQUEST_TIMEOUT_S = 60.0
OBJECT_INFO_TIMEOUT_S = 300.0  # the first /object_info lists every input folder of every node
HISTORY_POLL_S = 5.0  # without websocket news for this long, ask /history (a lost message never hangs a run)


class ServerError(RuntimeError):
    """The server could not be reached, refused a request, or a queued workflow failed; the
    message is the server's own."""


@dataclass
class Progress:
    """Where a run stands: nodes finished of those to run, and the running node's own steps."""
    nodes_done: int
    nodes_total: int
    node_id: str | None = None
    class_type: str | None = None
    step: int = 0
    steps: int = 0


@dataclass
class RunResult:
    """A finished run: its downloaded files and, when ComfyUI skipped outputs that failed
    validation, one line per error (the rest of the workflow ran)."""
    prompt_id: str
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)


class ComfyClient:
    """One client id's conversation with one ComfyUI server."""

    def __init__(self, server: str, timeout: float = REQUEST_TIMEOUT_S):
        parts = urlsplit(server if "://" in server else f"http://{server}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError("--server", f"expected a URL such as http://127.0.0.1:8188, got {server!r}")
        path = parts.path.rstrip("/")
        self.base = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        self.ws_base = urlunsplit(("wss" if parts.scheme == "https" else "ws", parts.netloc, path, "", ""))
        self.client_id = uuid.uuid4().hex
        self.timeout = timeout
        self.session = requests.Session()

    def _request(self, method: str, path: str, timeout: float | None = None, **kwargs) -> requests.Response:
        try:
            return self.session.request(method, self.base + path, timeout=timeout or self.timeout, **kwargs)
        except requests.ConnectionError as error:
            problem = f"cannot reach ComfyUI at {self.base} ({type(error).__name__}); is it running?"
            raise ServerError(problem) from error
        except requests.Timeout as error:
            raise ServerError(f"ComfyUI at {self.base} did not answer {method} {path} in time") from error

    def _json(self, method: str, path: str, **kwargs):
        response = self._request(method, path, **kwargs)
        if response.status_code != 200:
            raise ServerError(f"{method} {path} failed with HTTP {response.status_code}: {response.text[:500]}")
        return response.json()

    def object_info(self) -> dict:
        return self._json("GET", "/object_info", timeout=OBJECT_INFO_TIMEOUT_S)

    def upload(self, name: str, path: str | os.PathLike) -> str:
        """Put a local file into the server's input folder under ``name`` (overwriting); returns the
        name the workflow refers to. /upload/image stores any file's bytes, not only images."""
        _require_file(path)
        subfolder, _, filename = name.rpartition("/")
        with open(path, "rb") as handle:
            answer = self._json("POST", "/upload/image", files={"image": (filename, handle)},
                                data={"type": "input", "subfolder": subfolder, "overwrite": "true"})
        return "/".join(filter(None, [answer.get("subfolder"), answer["name"]]))

    def queue(self, prompt: dict, prompt_id: str) -> tuple[str, dict]:
        """POST /prompt under ``prompt_id`` (chosen here, so that a Ctrl-C during the request can
        still name it) -> (prompt id, node errors). A rejected prompt raises ServerError with the
        node errors; an accepted one may still list some: ComfyUI then runs only the outputs that
        passed validation."""
        response = self._request("POST", "/prompt", json={"prompt": prompt, "client_id": self.client_id,
                                                          "prompt_id": prompt_id})
        if response.status_code != 200:
            raise ServerError(describe_rejection(response))
        answer = response.json()
        return answer["prompt_id"], answer.get("node_errors") or {}

    def history(self, prompt_id: str) -> dict | None:
        return self._json("GET", f"/history/{prompt_id}").get(prompt_id)

    def download(self, item: dict, out_dir: Path) -> Path:
        """One output entry ({filename, subfolder, type}) via /view into out_dir (keeping the
        subfolder; files that are not in the output folder go under their type, e.g. temp/)."""
        folder = item.get("type", "output")
        parts = ([] if folder == "output" else [folder]) + [p for p in item.get("subfolder", "").split("/") if p]
        if any(p in ("..", "") or os.sep in p for p in parts) or os.path.basename(item["filename"]) != item["filename"]:
            raise ServerError(f"refusing an output path outside --out: {item}")
        target = out_dir.joinpath(*parts, item["filename"])
        target.parent.mkdir(parents=True, exist_ok=True)
        response = self._request("GET", "/view", stream=True, params={
            "filename": item["filename"], "subfolder": item.get("subfolder", ""), "type": folder})
        if response.status_code != 200:
            raise ServerError(f"/view could not send {item['filename']}: HTTP {response.status_code}")
        with open(target, "wb") as handle:
            for chunk in response.iter_content(1 << 20):
                handle.write(chunk)
        return target

    def interrupt(self, prompt_id: str) -> None:
        """Stop this prompt whether it runs (POST /interrupt) or still waits (POST /queue delete);
        other clients' prompts are left alone."""
        self._request("POST", "/interrupt", json={"prompt_id": prompt_id})
        self._request("POST", "/queue", json={"delete": [prompt_id]})

    def connect(self) -> websocket.WebSocket:
        try:
            return websocket.create_connection(f"{self.ws_base}/ws?clientId={self.client_id}", timeout=HISTORY_POLL_S)
        except (OSError, websocket.WebSocketException) as error:
            raise ServerError(f"cannot open ComfyUI's websocket at {self.ws_base}/ws: {error}") from error


def describe_rejection(response: requests.Response) -> str:
    """A 400 from /prompt in the server's words: the error, then each node's errors."""
    try:
        body = response.json()
    except ValueError:
        return f"ComfyUI rejected the workflow (HTTP {response.status_code}): {response.text[:500]}"
    error = body.get("error") or {}
    head = f"ComfyUI rejected the workflow: {error.get('message', error) if isinstance(error, dict) else error}"
    if isinstance(error, dict) and error.get("details"):
        head += f": {error['details']}"
    return "\n".join([head, *describe_node_errors(body.get("node_errors") or {})])


def describe_node_errors(node_errors: dict) -> list[str]:
    """One line per validation error: ``  node ID (CLASS): message: details``."""
    lines = []
    for node_id, node in node_errors.items():
        for problem in node.get("errors", []):
            details = f": {problem['details']}" if problem.get("details") else ""
            lines.append(f"  node {node_id} ({node.get('class_type', '?')}): {problem.get('message')}{details}")
    return lines


def describe_failure(status: dict) -> str:
    """A finished-but-failed prompt's status (from /history) in the server's words."""
    for event, data in status.get("messages") or []:
        if event == "execution_error":
            return (f"node {data.get('node_id')} ({data.get('node_type')}) failed: "
                    f"{data.get('exception_type')}: {data.get('exception_message', '').strip()}")
        if event == "execution_interrupted":
            return f"interrupted at node {data.get('node_id')} ({data.get('node_type')})"
    return f"the workflow finished with status {status.get('status_str')!r}"


def output_items(outputs: dict) -> list[dict]:
    """Every file entry in a history's outputs: lists of {filename, subfolder, type} under any key
    (images, gifs, files, ...)."""
    return [item for node in outputs.values() for value in node.values() if isinstance(value, list)
            for item in value if isinstance(item, dict) and "filename" in item]


def _require_file(path) -> None:
    if not os.path.isfile(path):
        raise InputError("--upload", f"file not found: {path!r}")


def load_workflow(path: str | os.PathLike) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise InputError("workflow", f"file not found: {path!r}") from None
    except json.JSONDecodeError as error:
        raise InputError("workflow", f"{path} is not JSON: {error}") from None


def prepare_prompt(workflow: dict, settings=(), object_info: dict | None = None) -> dict:
    """API-format prompt from an API or UI workflow with ``settings`` applied; UI files need
    ``object_info`` (the server's node definitions)."""
    if is_api_format(workflow):
        prompt = json.loads(json.dumps(workflow))
    elif is_ui_format(workflow):
        if object_info is None:
            raise InputError("workflow", "a UI-format workflow needs the server's /object_info to convert")
        prompt = ui_to_api(workflow, object_info)
    else:
        raise InputError("workflow", "is neither an API-format prompt nor a UI-format workflow")
    return apply_settings(prompt, settings, object_info)


def run_workflow(workflow: dict | str | os.PathLike, server: str, out_dir: str | os.PathLike, settings=(),
                 uploads=(), on_progress: Callable[[Progress], None] | None = None) -> RunResult:
    """Run ``workflow`` (a path or a parsed API/UI workflow) on the ComfyUI at ``server`` and
    download every output file into ``out_dir``.

    ``settings``: ``NODE.INPUT=VALUE`` texts (or triples) applied before queueing; ``uploads``:
    ``NAME=PATH`` texts (or pairs) put into the server's input folder first. Raises InputError for
    bad arguments and ServerError when the server refuses or the run fails. A KeyboardInterrupt
    while the prompt waits or runs interrupts it on the server and is raised again.
    """
    started = time.perf_counter()
    if not isinstance(workflow, dict):
        workflow = load_workflow(workflow)
    client = ComfyClient(server)
    uploads = [parse_upload(u) if isinstance(u, str) else tuple(u) for u in uploads]
    for _, path in uploads:
        _require_file(path)  # before anything reaches the server
    needs_definitions = is_ui_format(workflow) or bool(settings)
    prompt = prepare_prompt(workflow, settings, client.object_info() if needs_definitions else None)
    for name, path in uploads:
        stored = client.upload(name, path)
        if stored != name:
            raise ServerError(f"the server stored {path} as {stored!r}, not {name!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    socket = client.connect()  # before queueing, so no progress message is missed
    prompt_id = str(uuid.uuid4())
    try:
        prompt_id, node_errors = client.queue(prompt, prompt_id)
        status = _follow(client, socket, prompt_id, prompt, on_progress)
    except KeyboardInterrupt:
        with contextlib.suppress(ServerError):  # a server that is gone has nothing left to stop
            client.interrupt(prompt_id)
        raise
    finally:
        socket.close()
    entry = client.history(prompt_id) if status is None else status
    if entry is None or entry["status"].get("status_str") != "success":
        raise ServerError(describe_failure(entry["status"]) if entry else f"prompt {prompt_id} vanished from /history")
    if on_progress:
        on_progress(Progress(len(prompt), len(prompt)))
    files = [client.download(item, out) for item in output_items(entry.get("outputs", {}))]
    return RunResult(prompt_id=prompt_id, files=files, seconds=time.perf_counter() - started,
                     skipped=describe_node_errors(node_errors))


def _follow(client: ComfyClient, socket: websocket.WebSocket, prompt_id: str, prompt: dict,
            on_progress: Callable[[Progress], None] | None) -> dict | None:
    """Read websocket messages until the prompt is done; returns its /history entry when polling
    found it finished, None when the websocket said so."""
    report = on_progress or (lambda progress: None)
    progress = Progress(nodes_done=0, nodes_total=len(prompt))
    started_nodes: set[str] = set()
    cached: set[str] = set()
    report(progress)
    while True:
        try:
            message = socket.recv()
        except websocket.WebSocketTimeoutException:
            entry = client.history(prompt_id)
            if entry and entry.get("status", {}).get("completed") is not None and entry["status"].get("status_str"):
                return entry
            continue
        except websocket.WebSocketConnectionClosedException as error:
            raise ServerError("ComfyUI closed the websocket while the workflow ran") from error
        if not isinstance(message, str):
            continue  # binary frames carry preview images
        event = json.loads(message)
        data = event.get("data") or {}
        if data.get("prompt_id") not in (None, prompt_id):
            continue
        kind = event.get("type")
        if kind == "execution_cached":
            cached |= set(map(str, data.get("nodes", [])))
        elif kind == "executing" and data.get("prompt_id") == prompt_id:
            node = data.get("node")
            if node is None:
                return None
            started_nodes.add(str(node))
            progress = Progress(len(cached | started_nodes) - 1, len(prompt), str(node),
                                prompt.get(str(node), {}).get("class_type"))
        elif kind == "progress" and progress.node_id is not None:
            progress.step, progress.steps = int(data.get("value", 0)), int(data.get("max", 0))
        else:  # errors included: "executing" None follows once /history holds the failure
            continue
        report(progress)
