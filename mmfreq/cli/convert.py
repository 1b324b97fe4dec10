"""The one ``main`` of ``tools/model_converters/*``.

Each converter names its source, adds the arguments that build its model and
says how to convert; this module parses ``SRC DST``, builds the model, runs
the strict conversion (reading the source with mmfreq's safe loader) and ends
with one line: what was written, or ``error: ...`` naming the file and what
does not fit or what it pickles (exit status 1).
"""
import argparse
from typing import Callable, List, Optional, Sequence

import torch.nn as nn

from mmfreq.utils.checkpoint import safe_checkpoint_loading
from mmfreq.utils.weights import convert_checkpoint_file

from .errors import add_debug_argument, debugging, exit_on_error


def fresh_keys_note(new: List[str]) -> str:
    """``; new (fresh): a, b`` for the output line of a backbone conversion."""
    return f'; new (fresh): {", ".join(new) or "none"}'


def convert_backbone(model: nn.Module, args: argparse.Namespace,
                     note: Callable[[List[str]], str] = fresh_keys_note) -> str:
    """Convert ``args.src`` into ``model``'s names (its ``weight_formats()``), write ``args.dst``.

    Returns:
        The tail of the output line, from ``note`` and the keys that start fresh.
    """
    return note(convert_checkpoint_file(model, model.weight_formats(), args.src, args.dst))


def run_converter(doc: str, src_help: str,
                  add_arguments: Callable[[argparse.ArgumentParser], None],
                  build: Callable[[argparse.Namespace], nn.Module],
                  describe: Callable[[argparse.Namespace], str],
                  convert: Callable[[nn.Module, argparse.Namespace], str] = convert_backbone,
                  argv: Optional[Sequence[str]] = None) -> None:
    """Parse the command line, build the model, convert, report.

    Args:
        doc (str): The tool's docstring; its first line is the description.
        src_help (str): Help of the ``src`` argument (what it reads).
        add_arguments (Callable): Adds the tool's own arguments to the parser.
        build (Callable): Builds the model from the parsed arguments; a
            ValueError (an unknown arch), or a KeyError or TypeError from
            building a config's model, ends the run with its message.
        describe (Callable): What the model is, for the error line
            (``"VAN arch 'b2'"``).
        convert (Callable): Writes ``args.dst`` from ``args.src`` into the
            model and returns the tail of the output line; a ValueError (keys
            or shapes of another model, an unreadable file) ends the run
            naming ``args.src``, an OSError (no such file, a failed download)
            or an unsafe checkpoint with its own message.
        argv (Sequence[str], optional): Arguments instead of ``sys.argv``.
    """
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument('src', help=src_help)
    parser.add_argument('dst', help='where to write the mmfreq checkpoint')
    add_arguments(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    debug = debugging(args)
    with exit_on_error(KeyError, TypeError, ValueError, debug=debug):  # an unknown arch
        model = build(args)
    # no such file, a failed download; another model's keys (an unsafe file is a UserError)
    with exit_on_error(OSError, ValueError, debug=debug), safe_checkpoint_loading():
        try:
            tail = convert(model, args)
        except ValueError as err:
            raise ValueError(f'{args.src} does not fit {describe(args)}: {err}') from err
    print(f'wrote {args.dst}{tail}')
