"""The root of every error a user can cause and fix from its message alone."""


class UserError(Exception):
    """An error whose message names what to fix: a file, a key, a value.

    Every such error in mmfreq derives from it beside its built-in base (so
    ``except ValueError`` still catches a ``CheckpointError``), and the tools
    end on it with one ``error:`` line.
    """
