"""The core ComfyUI nodes' behaviour for running workflows without ComfyUI now lives with their
declarations, in product code (workflows/source/core_nodes.py): add a new core node's behaviour there."""

from posemotion.workflows.source.core_nodes import CORE_NODES

__all__ = ["CORE_NODES"]
