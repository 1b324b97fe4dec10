"""The one ``main`` of ``tools/model_converters/*``: parse ``SRC DST``, build
the model, convert strictly (:func:`mmfreq.utils.weights.convert_checkpoint_file`)
and end with one line, what was written or ``error: ...``."""
import argparse
from typing import Callable, Optional, Sequence

import torch.nn as nn

from mmfreq.utils.safe_unpickling import safe_checkpoint_loading
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
        src_help (str): Help of the ``src`` argument.
        add_arguments (Callable): Adds the tool's own arguments to the parser.
        build (Callable): Builds the model from the parsed arguments.
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
    # an unknown arch (ValueError), or a config's model that does not build
    with exit_on_error(KeyError, TypeError, ValueError, debug=debug):
        model = build(args)
    # writing DST can fail (OSError); whatever keeps SRC from converting is a UserError
    with exit_on_error(OSError, debug=debug), safe_checkpoint_loading():
        try:
            tail = convert_checkpoint_file(model, args.src, args.dst)
        except CheckpointError as err:
            raise err.reworded(f'{describe(args)}: {err}') from err
    print(f'wrote {args.dst} ({tail})')
