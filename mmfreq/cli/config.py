"""The config side of the tools' command line: ``--cfg-options`` parsed (and
applied by :func:`mmfreq.utils.cfg_options.apply_cfg_options`), data loaders
fitted to their worker count, and the default work directory."""
import argparse
import os.path as osp
from typing import Any, List, Optional, Sequence

from mmengine.config import Config

#: The data loaders of a config, as mmengine's Runner reads them.
DATALOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')

_QUOTES = ('"', "'")
_BRACKETS = {'(': ')', '[': ']'}


def _split_top_level(text: str) -> List[str]:
    """``text`` cut at the commas outside brackets and quotes, which open only
    where an element starts (``Bob's`` inside a path is plain text).

    Raises:
        ValueError: a quote or bracket is not closed.
    """
    parts, start, stack, quote, fresh = [], 0, [], None, True
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif fresh and char in _QUOTES:
            quote, fresh = char, False
        elif fresh and char in _BRACKETS:
            stack.append(_BRACKETS[char])
        elif stack and char == stack[-1]:
            stack.pop()
            fresh = False
        elif char == ',':
            if not stack:
                parts.append(text[start:i])
                start = i + 1
            fresh = True
        elif not char.isspace():
            fresh = False
    if quote or stack:
        closing = quote or stack[-1]
        raise ValueError(f'{text!r} does not close its {closing!r}')
    parts.append(text[start:])
    return parts


def _scalar(text: str) -> Any:
    """An int, float, bool or None where ``text`` spells one (as mmengine's
    ``DictAction`` reads them), else the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text.lower() in ('true', 'false'):
        return text.lower() == 'true'
    return None if text == 'None' else text


def parse_option_value(text: str) -> Any:
    """The value of one ``--cfg-options KEY=VALUE`` entry.

    As mmengine's ``DictAction``: ``[a, b]`` is a list, ``(a, b)`` a tuple
    (nested at will), ``a,b`` a list, and ``1``, ``0.5``, ``true``, ``None``
    are numbers, booleans and None. Unlike it, spaces inside a value are kept
    (``data_root=/tmp/my data``, as a shell passes a quoted path), and a value
    in quotes (``'...'`` or ``"..."``, inside a list too) is that string
    verbatim: commas, brackets and digits included. Spaces around a value or
    a list element are dropped.

    Args:
        text (str): What follows the first ``=``.

    Raises:
        ValueError: a bracket or quote is not closed.
    """
    text = text.strip()
    if len(text) >= 2 and text[0] in _QUOTES and text.find(text[0], 1) == len(text) - 1:
        return text[1:-1]
    if len(text) >= 2 and _BRACKETS.get(text[0]) == text[-1] \
            and len(_split_top_level(text)) == 1:
        inner = _split_top_level(text[1:-1])
        if inner[-1].strip() == '':  # [] or a trailing comma: (1,)
            inner.pop()
        values = [parse_option_value(element) for element in inner]
        return tuple(values) if text[0] == '(' else values
    parts = _split_top_level(text)
    if len(parts) > 1:
        if parts[-1].strip() == '':
            parts.pop()
        return [parse_option_value(part) for part in parts]
    return _scalar(text)


class CfgOptionsAction(argparse.Action):
    """``--cfg-options KEY=VALUE ...`` into a dict of dotted key -> value
    (:func:`parse_option_value`), with an argparse error naming an entry
    that has no ``=`` or an unclosed bracket or quote."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Sequence[str], option_string: Optional[str] = None) -> None:
        options = dict(getattr(namespace, self.dest, None) or {})
        for entry in values:
            if '=' not in entry:
                parser.error(f'{option_string} entry {entry!r} has no "=": write KEY=VALUE, '
                             f'e.g. {entry}=...')
            key, value = entry.split('=', 1)
            try:
                options[key] = parse_option_value(value)
            except ValueError as err:
                parser.error(f'{option_string} entry {entry!r}: {err}')
        setattr(namespace, self.dest, options)


def fit_workers(cfg: Config) -> List[str]:
    """Turn ``persistent_workers`` off in each data loader of ``cfg`` (changed
    in place) that has ``num_workers=0``, which torch refuses with it, and
    return the loaders changed, for the log."""
    changed = []
    for key in DATALOADER_KEYS:
        loader = cfg.get(key)
        if isinstance(loader, dict) and loader.get('num_workers', 1) == 0 \
                and loader.get('persistent_workers'):
            loader['persistent_workers'] = False
            changed.append(key)
    return changed


def default_work_dir(config_path: str, work_dir: Optional[str]) -> str:
    """``work_dir`` if given, else ``./work_dirs/<config name>`` (mmseg/mmdet convention)."""
    return work_dir or osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])
