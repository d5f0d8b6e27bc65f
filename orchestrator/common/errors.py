"""The one error type every command turns into a clean one-line message."""


class PlugindevError(Exception):
    """A failure the user can act on: the message names the thing and what to do.

    The CLI prints it as a single line and exits 1, never with a traceback.
    """


class UsageError(PlugindevError):
    """Wrong arguments or missing values on the command line (exit code 2)."""


class UnknownPlugin(PlugindevError):
    """A plugin id that nothing here knows (the API answers 404)."""


def shown(value: object, limit: int = 80) -> str:
    """`value` as Python writes it (`repr`), cut to `limit` characters: a message stays one short line whatever
    a file held."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
