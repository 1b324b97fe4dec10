"""``python -m mmfreq.utils.collect_env``: versions of the stack and what is wrong with it.

The most reported failures with OpenMMLab are version mismatches and an mmcv
without compiled ops (``No module named 'mmcv._ext'``). This prints every
version that matters, checks the known constraints, and says the exact fix.
With ``--check`` it exits non-zero when a problem was found.
"""
import argparse
import importlib
import sys
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

from packaging.version import Version

from mmfreq.errors import UserError

MMCV_OPS_FIX = (
    'mmcv is installed without its compiled ops (mmcv._ext), which detectors need '
    '(RoIAlign, NMS). Fix: on a CPU machine run `bash scripts/build_mmcv.sh` from the mmfreq '
    'checkout (builds mmcv 2.1.0 with ops against your torch); with a CUDA torch, '
    '`pip uninstall -y mmcv mmcv-lite` then `mim install "mmcv==2.1.0"` (prebuilt wheel) '
    'or `MMCV_WITH_OPS=1 pip install --no-build-isolation mmcv==2.1.0`.')

PACKAGES = ('torch', 'torchvision', 'mmcv', 'mmengine', 'mmdet', 'mmseg', 'mmpretrain', 'mmfreq')

# (package, lowest allowed, first disallowed): what the pinned releases assert at import.
VERSION_RANGES = (
    ('mmcv', '2.0.0rc4', '2.2.0'),
    ('mmengine', '0.7.1', '1.0.0'),
)


class MMCVOpsMissingError(ImportError, UserError):
    """mmcv was built without its C++/CUDA ops."""

    def __init__(self, detail: str = '') -> None:
        super().__init__(MMCV_OPS_FIX + (f' (import error: {detail})' if detail else ''))


def mmcv_ops_problem() -> Optional[str]:
    """The import error of ``mmcv._ext``, or None when the ops load."""
    try:
        importlib.import_module('mmcv._ext')
    except ImportError as err:
        return str(err)
    return None


@contextmanager
def explain_missing_ops() -> Iterator[None]:
    """Re-raise a registry ``KeyError`` or an ``ImportError`` as
    :class:`MMCVOpsMissingError` when mmcv's compiled ops are what is missing.

    Without them mmdet's model modules fail to import and mmengine only warns,
    so building a detector later fails with a bare "not in the registry"
    ``KeyError`` (or an ``ImportError`` from a module that imports the ops).
    """
    try:
        yield
    except (KeyError, ImportError) as err:
        problem = mmcv_ops_problem()
        if problem is not None:
            raise MMCVOpsMissingError(problem) from err
        raise


def collect_env() -> Dict[str, str]:
    """Versions of Python, the OpenMMLab stack, and the state of mmcv's ops."""
    import platform

    env = {'Python': platform.python_version(), 'Platform': platform.platform()}
    for name in PACKAGES:
        try:
            module = importlib.import_module(name)
            env[name] = getattr(module, '__version__', 'unknown')
        except Exception as err:  # a broken install is what this tool reports
            env[name] = f'not importable ({type(err).__name__}: {err})'
    try:
        import torch
        env['CUDA available'] = str(torch.cuda.is_available())
        if torch.cuda.is_available():
            env['GPU'] = torch.cuda.get_device_name(0)
            env['torch CUDA'] = str(torch.version.cuda)
    except ImportError:
        pass
    problem = mmcv_ops_problem()
    env['mmcv ops'] = 'loaded' if problem is None else f'missing ({problem})'
    return env


def find_problems(env: Dict[str, str]) -> List[str]:
    """Each problem with ``env`` (from :func:`collect_env`) and its fix."""
    problems = []
    for name in PACKAGES:
        if env[name].startswith('not importable'):
            problems.append(f'{name} is {env[name]}. Fix: run `bash scripts/install_deps.sh`.')
    for name, low, high in VERSION_RANGES:
        if env[name].startswith('not importable'):
            continue
        if not Version(low) <= Version(env[name]) < Version(high):
            problems.append(
                f'{name} {env[name]} is outside [{low}, {high}) that mmdet 3.3 / mmseg 1.2 '
                f'accept. Fix: `pip install {name}==' +
                ('2.1.0` (see `bash scripts/build_mmcv.sh`).' if name == 'mmcv' else '0.10.7`.'))
    if env['mmcv ops'] != 'loaded' and not env['mmcv'].startswith('not importable'):
        problems.append(MMCV_OPS_FIX)
    try:
        import pkg_resources  # noqa: F401  (openmim and mmengine import it at run time)
    except ImportError:
        problems.append('setuptools >= 81 removed pkg_resources, which openmim and mmengine '
                        'import. Fix: `pip install "setuptools<81"`.')
    return problems


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true',
                        help='exit with status 1 when a problem is found')
    args = parser.parse_args(argv)
    env = collect_env()
    width = max(map(len, env))
    for key, value in env.items():
        print(f'{key:<{width}} : {value}')
    problems = find_problems(env)
    for problem in problems:
        print(f'PROBLEM: {problem}')
    if not problems:
        print('OK: the stack is consistent and mmcv ops load.')
    return 1 if problems and args.check else 0


if __name__ == '__main__':
    sys.exit(main())
