"""Options of ``python -m posemotion run WORKFLOW.json --server URL --out DIR``: run a workflow (API
or UI format) on a running ComfyUI through its HTTP API and download its output files (the command
itself is in run_commands.py)."""

from __future__ import annotations


def add_commands(commands) -> None:
    run = commands.add_parser("run", help="run a workflow (API or UI format) on a ComfyUI server and download "
                                          "its outputs")
    run.add_argument("workflow", help="workflow JSON: API format (workflows/api/*.json) or as the frontend saves it")
    run.add_argument("--server", default="http://127.0.0.1:8188", help="ComfyUI's URL (default http://127.0.0.1:8188)")
    run.add_argument("--out", default="comfyui_output", help="folder for the downloaded output files")
    run.add_argument("--set", dest="settings", action="append", default=[], metavar="NODE.INPUT=VALUE",
                     help="set an input before queueing (value read as JSON, else as text); repeatable")
    run.add_argument("--upload", dest="uploads", action="append", default=[], metavar="NAME=PATH",
                     help="upload PATH into ComfyUI's input folder as NAME (the file name the workflow reads); "
                          "repeatable")
    run.set_defaults(run=run_command)


def run_command(args) -> int:
    # The HTTP client (requests, websocket-client: a quarter second) loads only once the command
    # runs, so that --help and argument errors answer at once.
    from .run_commands import run_command as run

    return run(args)
