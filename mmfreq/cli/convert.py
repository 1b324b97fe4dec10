"""The one ``main`` of ``tools/model_converters/*``.

Each converter names its source and adds the arguments that build its model
(a backbone, or a whole model from a config); this module parses ``SRC DST``,
builds the model, runs the strict conversion
(:func:`mmfreq.utils.weights.convert_checkpoint_file`, reading the source with
mmfreq's safe loader) and ends with one line: what was written, or
``error: ...`` naming the model, the file and what does not fit or what it
pickles (exit status 1).
"""
import argparse
from typing import Callable, Optional, Sequence

import torch.nn as nn

from mmfreq.utils.checkpoint import safe_checkpoint_loading
from mmfreq.utils.weights import CheckpointError, convert_checkpoint_file

from .errors import add_debug_argument, debugging, exit_on_error


def run_converter(doc: str, src_help: str,
                  add_arguments: Callable[[argparse.ArgumentParser], None],
                  build: Callable[[argparse.Namespace], nn.Module],
                  describe: Callable[[argparse.Namespace], str],
                  argv: Optional[Sequence[str]] = None) -> None:
    """Parse the command line, build the model, convert, report.

    Args:
        doc (str): The tool's docstring; its first line is the description.
        src_help (str): Help of the ``src`` argument (what it reads).
        add_arguments (Callable): Adds the tool's own arguments to the parser.
        build (Callable): Builds the backbone or whole model from the parsed
            arguments; a ValueError (an unknown arch), or a KeyError or
            TypeError from building a config's model, ends the run with its
            message.
        describe (Callable): What the model is, for the error line
            (``"VAN arch 'b2'"``).
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
    # no such file or a failed download (OSError); an unreadable file, keys of
    # another model and an unsafe file are UserErrors
    with exit_on_error(OSError, debug=debug), safe_checkpoint_loading():
        try:
            tail = convert_checkpoint_file(model, args.src, args.dst)
        except CheckpointError as err:
            raise err.reworded(f'{describe(args)}: {err}') from err
    print(f'wrote {args.dst} ({tail})')
