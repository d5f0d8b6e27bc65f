"""The one error type every command turns into a clean one-line message."""


class PlugindevError(Exception):
    """A failure the user can act on: the message names the thing and what to do.

    The CLI prints it as a single line and exits 1, never with a traceback.
    """


class UsageError(PlugindevError):
    """Wrong arguments or missing values on the command line (exit code 2)."""


class UnknownPlugin(PlugindevError):
    """A plugin id that nothing here knows (the API answers 404)."""
