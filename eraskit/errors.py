"""The one exception type that means "the user gave us something we cannot use"."""


class EraskitError(ValueError):
    """A problem with the user's input, reported as one line (the CLI exits with code 2)."""
