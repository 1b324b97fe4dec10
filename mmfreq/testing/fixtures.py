"""Test inputs the test modules share: a real photograph, files named and
shaped as the official releases, and the paths of the built-in scenes."""
import json
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple, Union

import torch

from .tools import ROOT, read_config

StateDict = Dict[str, torch.Tensor]

#: Key names and shapes of the official backbone releases (dumped from official code).
KEY_FIXTURES = ROOT / 'tests' / 'data' / 'official_keys'
#: Key names and shapes of the official whole-model releases.
MODEL_FIXTURES = ROOT / 'tests' / 'data' / 'official_models'
#: What an mmseg 0.x checkpoint's meta holds besides the weights.
ADE_META = {'CLASSES': tuple(f'class_{i}' for i in range(150)),
            'PALETTE': [[i, 255 - i, i // 2] for i in range(150)],
            'mmseg_version': '0.26.0'}


def photo_path() -> str:
    """matplotlib's sample photograph (Grace Hopper, 512x600 RGB JPEG)."""
    from matplotlib import cbook
    return cbook.get_sample_data('grace_hopper.jpg', asfileobj=False)


def release_tensors(name: str, seed: int = 0, keep: Callable[[str], bool] = lambda key: True,
                    folder: Path = KEY_FIXTURES) -> Tuple[StateDict, str]:
    """Random tensors named and shaped as the release ``name`` (a fixture in
    ``folder``), and its container key."""
    fixture = json.loads((folder / f'{name}.json').read_text())
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, (shape, dtype) in fixture['tensors'].items():
        if not keep(key):
            continue
        if dtype != 'float32':  # index buffers, BatchNorm counters
            state[key] = torch.zeros(shape, dtype=getattr(torch, dtype))
        elif key.endswith('running_var'):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.1
    return state, fixture['container']


def save_release(state: StateDict, container: str, path: Path) -> Path:
    """Save ``state`` as the release does: under ``container``, or bare."""
    torch.save({container: state} if container else state, path)
    return path


def official_file(name: str, path: Path, seed: int = 0) -> Path:
    """A whole-model file named and shaped as the release ``name`` (random
    values), with the meta of the mmseg version that wrote it."""
    state, container = release_tensors(name, seed, folder=MODEL_FIXTURES)
    meta = ADE_META
    if name.endswith('_mmseg_projects'):  # mmseg 1.x
        meta = {'dataset_meta': {'classes': ADE_META['CLASSES'], 'palette': ADE_META['PALETTE']}}
    torch.save({'meta': meta, container: state}, path)
    return path


def label_path(root: Path, i: int, split: str = 'training') -> Path:
    """The label map of scene ``i`` in a folder written by ``write_ade20k``."""
    prefix = 'ADE_train' if split == 'training' else 'ADE_val'
    return root / 'annotations' / split / f'{prefix}_{i:08d}.png'


def image_path(root: Path, i: int, split: str = 'training') -> Path:
    """The image of scene ``i`` in a folder written by ``write_ade20k``."""
    prefix = 'ADE_train' if split == 'training' else 'ADE_val'
    return root / 'images' / split / f'{prefix}_{i:08d}.jpg'


def save_runner_like_checkpoint(config: Union[str, Path], path: Path,
                                dataset_meta: Optional[dict] = None) -> StateDict:
    """Save the model of ``config`` with random weights as a Runner saves a
    checkpoint (weights, meta, the message hub whose HistoryBuffer torch's
    weights_only loader refuses); returns the saved state dict."""
    from mmengine.logging import MessageHub
    from mmengine.runner import save_checkpoint

    from mmfreq.apis import build_model_from_config

    torch.manual_seed(0)
    model = build_model_from_config(read_config(config))
    for param in model.parameters():  # distinct from any initialisation
        param.data.uniform_(-0.1, 0.1)
    hub = MessageHub.get_instance('runner_like_checkpoint')
    hub.update_scalar('train/loss', 1.0)
    meta = dict(iter=2, epoch=0)
    if dataset_meta is not None:
        meta['dataset_meta'] = dataset_meta
    save_checkpoint(dict(meta=meta, state_dict=model.state_dict(),
                         message_hub=hub.state_dict()), str(path))
    return model.state_dict()
