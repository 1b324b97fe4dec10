"""How a tool ends on an error the user can act on: one ``error: ...`` line,
with the traceback behind it on request (``--debug`` or ``MMFREQ_DEBUG=1``)."""
import argparse
import os
import sys
import traceback
from contextlib import contextmanager
from typing import Iterator, Optional, Type

from mmfreq.errors import UserError

#: Set to 1 to print the traceback behind every ``error:`` line of the tools.
DEBUG_ENV = 'MMFREQ_DEBUG'


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--debug``: print the traceback behind an ``error:`` line.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
    """
    parser.add_argument('--debug', action='store_true',
                        help=f'print the full traceback behind an error (or set {DEBUG_ENV}=1)')


def debugging(args: Optional[argparse.Namespace] = None) -> bool:
    """Whether ``--debug`` was given or ``MMFREQ_DEBUG`` is set to a true value.

    Args:
        args (argparse.Namespace, optional): Parsed arguments that may carry ``debug``.

    Returns:
        bool: Print tracebacks.
    """
    from_env = os.getenv(DEBUG_ENV, '0').lower() in ('1', 'y', 'yes', 'true')
    return from_env or bool(getattr(args, 'debug', False))


def error_message(err: BaseException) -> str:
    """The text of ``err`` for an ``error:`` line: its message as written
    (``str(KeyError('x'))`` would quote it), or its type when it has none.

    Args:
        err (BaseException): The error.

    Returns:
        str: The message.
    """
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        return err.args[0]
    return str(err) or type(err).__name__


@contextmanager
def exit_on_error(*errors: Type[BaseException], debug: bool = False) -> Iterator[None]:
    """End the program with ``error: <message>`` (exit status 1) when one of
    ``errors``, or any :class:`UserError`, is raised inside the block.

    These are the errors whose message alone tells a user what to fix; a
    developer passes ``debug=True`` to see the traceback above that line.

    Args:
        *errors (type): Exception classes to turn into an ``error:`` line.
        debug (bool): Print the traceback to stderr first.
    """
    try:
        yield
    except (UserError, *errors) as err:
        if debug:
            traceback.print_exc()
        sys.exit(f'error: {error_message(err)}')
