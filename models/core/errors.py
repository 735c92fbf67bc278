"""Errors raised for bad user input, shared by the library, the CLI and the nodes."""


class InputError(ValueError):
    """One clear message naming the offending input and what was expected."""

    def __init__(self, input_name: str, problem: str):
        self.input_name = input_name
        super().__init__(f"{input_name}: {problem}")


class ModelFileError(FileNotFoundError):
    """A model file is missing or does not match what its loader expects."""
