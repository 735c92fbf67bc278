"""Headless use: run a workflow (API or UI format) on a ComfyUI server through its HTTP API and
fetch its output files. Imports only ``models.core``; the command is ``python -m posemotion run``."""

from .client import ComfyClient, Progress, RunResult, ServerError, run_workflow
from .workflow_format import apply_settings, object_info_from_classes, parse_setting, parse_upload, ui_to_api

__all__ = ["ComfyClient", "Progress", "RunResult", "ServerError", "run_workflow", "apply_settings",
           "object_info_from_classes", "parse_setting", "parse_upload", "ui_to_api"]
