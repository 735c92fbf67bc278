"""``python -m posemotion run``: the runner's progress bar and printing over
``models.headless.run_workflow`` (options in run.py)."""

from __future__ import annotations

import sys

from ..models.core.errors import InputError
from ..models.headless import Progress, ServerError, run_workflow

BAR_WIDTH = 24
INTERRUPTED_EXIT = 130  # the shell's code for a Ctrl-C'd command


class ProgressBar:
    """One line on stderr: nodes done of the workflow, and the running node's own steps."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.last = ""
        self.last_node = None

    def __call__(self, progress: Progress) -> None:
        fraction = progress.nodes_done / max(progress.nodes_total, 1)
        if progress.steps and progress.nodes_done < progress.nodes_total:
            fraction += min(progress.step / progress.steps, 1.0) / max(progress.nodes_total, 1)
        filled = round(BAR_WIDTH * fraction)
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {progress.nodes_done}/{progress.nodes_total} nodes"
        if progress.class_type and progress.nodes_done < progress.nodes_total:
            line += f"  {progress.class_type}"
            if progress.steps:
                line += f" {progress.step}/{progress.steps}"
        if self.live:
            print("\r" + line.ljust(len(self.last)), end="", file=self.stream, flush=True)
        elif (progress.nodes_done, progress.node_id) != self.last_node:  # a log: one line per node
            print(line, file=self.stream, flush=True)
        self.last, self.last_node = line, (progress.nodes_done, progress.node_id)

    def close(self) -> None:
        if self.live and self.last:
            print(file=self.stream, flush=True)
        self.last = ""


def run_command(args) -> int:
    bar = ProgressBar()
    try:
        result = run_workflow(args.workflow, args.server, args.out, settings=args.settings, uploads=args.uploads,
                              on_progress=bar)
    except (InputError, ServerError) as error:
        bar.close()
        print(f"error: {error}", file=sys.stderr)
        return 2 if isinstance(error, InputError) else 1  # 2: our arguments; 1: the server or the run
    except KeyboardInterrupt:
        bar.close()
        print("interrupted (a queued workflow is stopped on the server too)", file=sys.stderr)
        return INTERRUPTED_EXIT
    bar.close()
    for path in result.files:
        print(f"wrote {path}")
    print(f"prompt {result.prompt_id} finished in {result.seconds:.1f} s; {len(result.files)} files in {args.out}")
    if result.skipped:
        print("error: ComfyUI ran only the outputs that passed validation; it skipped:", *result.skipped,
              sep="\n", file=sys.stderr)
        return 1
    return 0
