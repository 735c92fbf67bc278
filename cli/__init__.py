"""The command line (``python -m posemotion``): the second front door over ``models/``, beside
``nodes/``. Argument parsing and printing only; the work is done by functions in ``models/``."""

from .main import main

__all__ = ["main"]
