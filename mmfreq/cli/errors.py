"""How a tool ends on an error the user can act on: one ``error: ...`` line,
with the traceback behind it on request (``--debug`` or ``MMFREQ_DEBUG=1``)."""
import argparse
import os
import sys
import traceback
from contextlib import contextmanager
from typing import Iterator, Optional, Type

from mmfreq.errors import UserError, error_message

#: Set to 1 to print the traceback behind every ``error:`` line of the tools.
DEBUG_ENV = 'MMFREQ_DEBUG'


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--debug`` to a tool's ``parser``."""
    parser.add_argument('--debug', action='store_true',
                        help=f'print the full traceback behind an error (or set {DEBUG_ENV}=1)')


def debugging(args: Optional[argparse.Namespace] = None) -> bool:
    """Whether ``args.debug`` is set or ``MMFREQ_DEBUG`` is true."""
    from_env = os.getenv(DEBUG_ENV, '0').lower() in ('1', 'y', 'yes', 'true')
    return from_env or bool(getattr(args, 'debug', False))


@contextmanager
def exit_on_error(*errors: Type[BaseException], debug: bool = False) -> Iterator[None]:
    """End the program with ``error: <message>`` (exit status 1) on a
    :class:`~mmfreq.errors.UserError`, or on one of ``errors``, raised inside the block.

    Args:
        *errors (type): Other exception classes to end on (another library's
            errors whose message names what to fix).
        debug (bool): Print the traceback to stderr first.
    """
    try:
        yield
    except (UserError, *errors) as err:
        if debug:
            traceback.print_exc()
        sys.exit(f'error: {error_message(err)}')
