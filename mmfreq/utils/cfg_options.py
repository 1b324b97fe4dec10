"""``--cfg-options`` applied to a config, refusing a top-level key it does not
have: a misspelling would otherwise be ignored silently."""
import difflib
import inspect
from typing import Dict, Optional

from mmengine.config import Config
from mmengine.runner import Runner

from mmfreq.errors import UserError, error_message

# Top-level keys mmengine's Runner (and the host toolboxes' tools) read that a
# config need not set: --cfg-options may add them.
RUNTIME_KEYS = frozenset(inspect.signature(Runner.__init__).parameters) - {'self', 'cfg'} | {
    'activation_checkpointing', 'compile', 'custom_imports', 'efficient_conv_bn_eval',
    'find_unused_parameters', 'model_wrapper_cfg', 'runner_type', 'sync_bn', 'tta_model',
    'tta_pipeline'}


class CfgOptionError(ValueError, UserError):
    """A ``--cfg-options`` entry names a key the config does not have."""


def apply_cfg_options(cfg: Config, options: Optional[Dict[str, object]]) -> None:
    """Merge ``options`` (dotted key -> value, as ``--cfg-options`` parses them)
    into ``cfg``, refusing a top-level key the config does not have and
    mmengine does not read.

    Raises:
        CfgOptionError: naming the key and the closest existing ones, or
            mmengine's reason when the options cannot be merged.
    """
    if not options:
        return
    known = set(cfg.keys())
    for key in options:
        top = key.split('.')[0]
        if top not in known and top not in RUNTIME_KEYS:
            close = difflib.get_close_matches(top, sorted(known | RUNTIME_KEYS), n=3)
            hint = f'; did you mean {" or ".join(map(repr, close))}?' if close else ''
            raise CfgOptionError(f'--cfg-options {key}: the config has no top-level key '
                                 f'{top!r}{hint}')
    try:
        cfg.merge_from_dict(options)
    except (KeyError, TypeError) as err:  # e.g. a key under a value that is not a dict
        raise CfgOptionError(f'--cfg-options {", ".join(options)}: {error_message(err)}'
                             ) from err
