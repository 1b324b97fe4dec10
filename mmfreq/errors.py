"""The root of every error a user can cause and fix from its message alone,
and the text an ``error:`` line shows of an error."""


class UserError(Exception):
    """An error whose message names what to fix (bad data, a bad config, a bad
    or unsafe checkpoint, a failed resume, a refused export, mmcv without its
    ops). Each derives from it beside its built-in base (``except ValueError``
    still catches a ``CheckpointError``); the tools end on it in one ``error:`` line."""


def error_message(err: BaseException) -> str:
    """The text of ``err`` for an ``error:`` line: its message as written
    (``str(KeyError('x'))`` would quote it), or its type when it has none."""
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        return err.args[0]
    return str(err) or type(err).__name__
