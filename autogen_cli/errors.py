"""Errors the CLI turns into one red line and an exit code (never a traceback)."""


class AutogenError(Exception):
    """A failure the user can act on; the message says what to do."""

    exit_code = 1


class UsageError(AutogenError):
    """Bad arguments or values (exit code 2, like Typer's own usage errors)."""

    exit_code = 2


class UnknownNameError(UsageError):
    """A model, dataset or checkpoint name that does not exist."""


class DataMissingError(AutogenError):
    """Dataset files are absent and cannot be downloaded."""


class WeightsError(AutogenError):
    """A checkpoint is missing, truncated, tampered with or unreadable."""


class OfflineError(WeightsError):
    """Weights are needed from the network but we are offline and nothing is cached."""


def suggest(name: str, choices) -> str:
    """' Did you mean: a, b?' for close matches, else the list of choices."""
    import difflib

    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if close:
        return f" Did you mean: {', '.join(close)}?"
    return f" Choose from: {', '.join(choices)}."


class DataError(AutogenError):
    """A dataset file is present but corrupt, truncated or not in the expected format."""
