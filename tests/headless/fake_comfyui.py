"""A small ComfyUI stand-in on 127.0.0.1 (aiohttp, in a thread) speaking the HTTP API that the
headless runner uses, with the message shapes of ComfyUI 0.3.64 (server.py, execution.py, main.py).

It "runs" a prompt by walking its nodes: websocket executing/progress messages, then a /history
entry whose outputs name files it serves through /view. ``behaviour`` picks the ending: "success",
"execution_error" (the last node fails), "hang" (waits until /interrupt) or "silent" (succeeds
without a websocket message, as if they were lost).
"""

from __future__ import annotations

import asyncio
import threading
import uuid

from aiohttp import web

PNG_BYTES = b"\x89PNG\r\n\x1a\n fake image"


class FakeComfyUI:
    def __init__(self, object_info: dict):
        self.object_info = object_info
        self.behaviour = "success"
        self.uploads: dict[str, bytes] = {}  # "subfolder/name" -> bytes
        self.upload_forms: list[dict] = []
        self.prompts: list[dict] = []
        self.interrupts: list[dict] = []
        self.queue_deletes: list[list] = []
        self.history: dict[str, dict] = {}
        self.files: dict[tuple[str, str, str], bytes] = {}  # (type, subfolder, filename) -> bytes
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.hanging: dict[str, asyncio.Event] = {}
        self.url = ""

    # --- routes ----------------------------------------------------------------------------

    async def get_object_info(self, request):
        return web.json_response(self.object_info)

    async def upload_image(self, request):
        post = await request.post()
        image = post.get("image")
        if image is None or not image.filename:
            return web.Response(status=400)
        self.upload_forms.append({k: v for k, v in post.items() if k != "image"})
        subfolder = post.get("subfolder", "")
        self.uploads["/".join(filter(None, [subfolder, image.filename]))] = image.file.read()
        return web.json_response({"name": image.filename, "subfolder": subfolder, "type": post.get("type", "input")})

    async def post_prompt(self, request):
        """As ComfyUI: refuse (400) when no output node passes validation, else run the outputs
        that pass (and what they read) and list the errors of the others."""
        body = await request.json()
        prompt = body["prompt"]
        node_errors = self._validate(prompt)
        wanted = [node_id for node_id, node in prompt.items()
                  if self.object_info.get(node["class_type"], {}).get("output_node")]
        runnable = [self._needs(prompt, node_id) for node_id in wanted]
        runnable = [needs for needs in runnable if not needs & set(node_errors)]
        if not runnable:
            return web.json_response({"error": {"type": "prompt_outputs_failed_validation",
                                                "message": "Prompt outputs failed validation", "details": "",
                                                "extra_info": {}}, "node_errors": node_errors}, status=400)
        prompt_id = str(body.get("prompt_id", uuid.uuid4()))  # ComfyUI 0.3.64 takes the client's id
        self.prompts.append(body)
        to_run = {node_id: node for node_id, node in prompt.items() if any(node_id in needs for needs in runnable)}
        asyncio.get_running_loop().create_task(self._execute(prompt_id, to_run, body.get("client_id")))
        return web.json_response({"prompt_id": prompt_id, "number": len(self.prompts), "node_errors": node_errors})

    async def get_history(self, request):
        prompt_id = request.match_info["prompt_id"]
        return web.json_response({prompt_id: self.history[prompt_id]} if prompt_id in self.history else {})

    async def view(self, request):
        query = request.rel_url.query
        key = (query.get("type", "output"), query.get("subfolder", ""), query["filename"])
        if key not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[key], content_type="application/octet-stream")

    async def interrupt(self, request):
        body = await request.json()
        self.interrupts.append(body)
        if body.get("prompt_id") in self.hanging:
            self.hanging[body["prompt_id"]].set()
        return web.Response(status=200)

    async def post_queue(self, request):
        self.queue_deletes.append((await request.json()).get("delete", []))
        return web.Response(status=200)

    async def websocket(self, request):
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        client_id = request.rel_url.query.get("clientId") or uuid.uuid4().hex
        self.sockets[client_id] = socket
        await socket.send_json({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}},
                                                           "sid": client_id}})
        async for _ in socket:
            pass
        self.sockets.pop(client_id, None)
        return socket

    # --- behaviour -------------------------------------------------------------------------

    @staticmethod
    def _needs(prompt: dict, node_id: str) -> set[str]:
        """The node and every node it reads from."""
        needs, todo = set(), [node_id]
        while todo:
            current = todo.pop()
            if current not in needs:
                needs.add(current)
                todo += [v[0] for v in prompt[current]["inputs"].values() if isinstance(v, list) and len(v) == 2]
        return needs

    def _validate(self, prompt: dict) -> dict:
        """The checks of ComfyUI's validate_inputs that tests need: unknown classes, missing
        required inputs, numbers outside min/max (same messages)."""
        errors = {}
        for node_id, node in prompt.items():
            info = self.object_info.get(node["class_type"])
            problems = []
            if info is None:
                problems.append({"type": "invalid_prompt", "message": f"Cannot execute because node "
                                 f"{node['class_type']} does not exist.", "details": f"Node ID '#{node_id}'"})
            else:
                for name, spec in info["input"].get("required", {}).items():
                    value = node["inputs"].get(name)
                    options = spec[1] if len(spec) > 1 else {}
                    if value is None:
                        problems.append({"type": "required_input_missing", "message": "Required input is missing",
                                         "details": name})
                    elif spec[0] in ("INT", "FLOAT") and not isinstance(value, list) and "max" in options:
                        value = float(value) if spec[0] == "FLOAT" else value
                        if value > options["max"]:
                            problems.append({"type": "value_bigger_than_max", "details": name,
                                             "message": f"Value {value} bigger than max of {options['max']}"})
            if problems:
                errors[node_id] = {"errors": problems, "dependent_outputs": [], "class_type": node["class_type"]}
        return errors

    async def _send(self, client_id, kind: str, data: dict):
        if self.behaviour == "silent":
            return
        socket = self.sockets.get(client_id)
        if socket is not None and not socket.closed:
            await socket.send_json({"type": kind, "data": data})

    async def _execute(self, prompt_id: str, prompt: dict, client_id):
        await asyncio.sleep(0.05)
        messages = [["execution_start", {"prompt_id": prompt_id}]]
        await self._send(client_id, "execution_start", {"prompt_id": prompt_id})
        await self._send(client_id, "execution_cached", {"nodes": [], "prompt_id": prompt_id})
        await self._send_bytes(client_id)
        outputs, status = {}, "success"
        for position, (node_id, node) in enumerate(prompt.items()):
            await self._send(client_id, "executing", {"node": node_id, "display_node": node_id, "prompt_id": prompt_id})
            for step in (1, 2, 3):
                await self._send(client_id, "progress",
                                 {"value": step, "max": 3, "prompt_id": prompt_id, "node": node_id})
            last = position == len(prompt) - 1
            if self.behaviour == "hang" and last:
                self.hanging[prompt_id] = asyncio.Event()
                await self.hanging[prompt_id].wait()
                data = {"prompt_id": prompt_id, "node_id": node_id, "node_type": node["class_type"], "executed": []}
                messages.append(["execution_interrupted", data])
                await self._send(client_id, "execution_interrupted", data)
                status = "error"
                break
            if self.behaviour == "execution_error" and last:
                data = {"prompt_id": prompt_id, "node_id": node_id, "node_type": node["class_type"], "executed": [],
                        "exception_message": "width: must be a multiple of 8, got 97\n",
                        "exception_type": "posemotion.models.core.errors.InputError",
                        "traceback": ["Traceback ..."], "current_inputs": {}, "current_outputs": []}
                messages.append(["execution_error", data])
                await self._send(client_id, "execution_error", data)
                status = "error"
                break
            ui = self._outputs_of(node_id, node)
            if ui:
                outputs[node_id] = ui
                await self._send(client_id, "executed", {"node": node_id, "output": ui, "prompt_id": prompt_id})
        if status == "success":
            messages.append(["execution_success", {"prompt_id": prompt_id}])
        self.history[prompt_id] = {"prompt": [0, prompt_id, prompt, {}, []], "outputs": outputs, "meta": {},
                                   "status": {"status_str": status, "completed": status == "success",
                                              "messages": messages}}
        await self._send(client_id, "executing", {"node": None, "prompt_id": prompt_id})

    async def _send_bytes(self, client_id):
        """A binary frame, as ComfyUI sends preview images: the runner must skip it."""
        socket = self.sockets.get(client_id)
        if socket is not None and not socket.closed:
            await socket.send_bytes(b"\x00\x00\x00\x01preview")

    def _outputs_of(self, node_id: str, node: dict) -> dict:
        """Image savers report "images", our savers "files"; each file becomes servable."""
        prefix = str(node["inputs"].get("filename_prefix", ""))
        if not prefix:
            return {}
        subfolder, _, stem = prefix.rpartition("/")
        key = "images" if node["class_type"].startswith("Save") else "files"
        name = f"{stem}_{node_id}_00001_.png" if key == "images" else f"{stem}_{node_id}_00001.json"
        self.files[("output", subfolder, name)] = PNG_BYTES if key == "images" else b'{"node": "%s"}' % node_id.encode()
        return {key: [{"filename": name, "subfolder": subfolder, "type": "output"}], "text": ["a summary"]}


def start(fake: FakeComfyUI):
    """Serve ``fake`` on a free port of 127.0.0.1 in a daemon thread; returns a stop function."""
    app = web.Application()
    app.add_routes([
        web.get("/object_info", fake.get_object_info), web.post("/upload/image", fake.upload_image),
        web.post("/prompt", fake.post_prompt), web.get("/history/{prompt_id}", fake.get_history),
        web.get("/view", fake.view), web.post("/interrupt", fake.interrupt), web.post("/queue", fake.post_queue),
        web.get("/ws", fake.websocket),
    ])
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    ready = threading.Event()

    async def serve():
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        fake.url = f"http://127.0.0.1:{port}"
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True)
    thread.start()
    assert ready.wait(10), "the fake ComfyUI did not start"

    def stop():
        for event in fake.hanging.values():
            loop.call_soon_threadsafe(event.set)
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    return stop
