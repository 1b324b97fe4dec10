"""The config side of the tools' command line: ``--cfg-options`` parsed and
checked against the config, and the default work directory."""
import argparse
import difflib
import inspect
import os.path as osp
from typing import Dict, Optional, Sequence

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

# Top-level keys mmengine's Runner (and the host toolboxes' tools) read that a
# config need not set: --cfg-options may add them.
RUNTIME_KEYS = frozenset(inspect.signature(Runner.__init__).parameters) - {'self', 'cfg'} | {
    'activation_checkpointing', 'compile', 'custom_imports', 'efficient_conv_bn_eval',
    'find_unused_parameters', 'model_wrapper_cfg', 'runner_type', 'sync_bn', 'tta_model',
    'tta_pipeline'}


class CfgOptionError(ValueError):
    """A ``--cfg-options`` entry names a key the config does not have."""


class CfgOptionsAction(DictAction):
    """mmengine's ``--cfg-options`` parser, with an argparse error naming an
    entry that has no ``=`` (mmengine raises a bare ``ValueError``)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Sequence[str], option_string: Optional[str] = None) -> None:
        for entry in values:
            if '=' not in entry:
                parser.error(f'{option_string} entry {entry!r} has no "=": write KEY=VALUE, '
                             f'e.g. {entry}=...')
        super().__call__(parser, namespace, values, option_string)


def apply_cfg_options(cfg: Config, options: Optional[Dict[str, object]]) -> None:
    """Merge parsed ``--cfg-options`` into ``cfg``, refusing a top-level key that
    the config does not have and mmengine does not read (a misspelling would
    otherwise be ignored silently).

    Args:
        cfg (Config): The config.
        options (dict, optional): Dotted key -> value, as
            :class:`CfgOptionsAction` parses them.

    Raises:
        CfgOptionError: naming the key and the closest existing keys.
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
    cfg.merge_from_dict(options)


def default_work_dir(config_path: str, work_dir: Optional[str]) -> str:
    """``--work-dir`` if given, else ``./work_dirs/<config name>`` (mmseg/mmdet convention).

    Args:
        config_path (str): The config file.
        work_dir (str, optional): The directory asked for, if any.
    """
    return work_dir or osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])
