"""Errors raised for bad user input, shared by the library, the CLI and the nodes."""

import math


class InputError(ValueError):
    """One clear message naming the offending input and what was expected."""

    def __init__(self, input_name: str, problem: str):
        self.input_name = input_name
        super().__init__(f"{input_name}: {problem}")


class ModelFileError(FileNotFoundError):
    """A model file is missing or does not match what its loader expects."""


def positive_number(value, input_name: str, expected: str = "a positive number") -> float:
    """``value`` as a float when it is a finite real number above 0 (not a bool), else one InputError
    naming ``input_name``: ``expected <expected>, got <value>``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InputError(input_name, f"expected {expected}, got {value!r}")
    return float(value)
