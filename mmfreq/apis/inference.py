"""Inference with any mmfreq config through the API of the toolbox hosting it
(its ``default_scope``: mmseg, mmdet or mmpretrain); see docs/inference.md."""
import copy
import os.path as osp
import warnings
from typing import List, Optional, Sequence, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.structures import BaseDataElement

from mmfreq.utils.cfg_options import apply_cfg_options
from mmfreq.utils.safe_unpickling import safe_checkpoint_loading
from mmfreq.utils.weights import dataset_meta_of, load_model_weights

HOSTS = ('mmseg', 'mmdet', 'mmpretrain')
Image = Union[str, np.ndarray]


def host_of(cfg: Config) -> str:
    """The toolbox that builds a config's model, its ``default_scope``; a scope
    other than mmseg, mmdet or mmpretrain raises a ValueError naming both."""
    scope = cfg.get('default_scope')
    if scope not in HOSTS:
        raise ValueError(
            f'{cfg.filename or "config"}: default_scope={scope!r}; mmfreq inference runs '
            'configs whose default_scope is mmseg (segmentors), mmdet (detectors) or '
            'mmpretrain (classifiers)')
    return scope


def dataset_meta_from_config(cfg: Config) -> dict:
    """Class names (and palette) of the config's test dataset, from its class
    and the config's ``metainfo``; no data is read (``lazy_init``)."""
    host = host_of(cfg)
    dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    dataset_cfg.lazy_init = True
    if host == 'mmseg':
        from mmseg.registry import DATASETS
    elif host == 'mmdet':
        from mmdet.registry import DATASETS
    else:
        from mmpretrain.registry import DATASETS
    init_default_scope(host)
    return dict(DATASETS.build(dataset_cfg).metainfo)


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu', cfg_options: Optional[dict] = None,
               strict: bool = True) -> torch.nn.Module:
    """Build the model of an mmfreq (or any mmseg / mmdet / mmpretrain) config
    with its host's API, load ``checkpoint`` under mmfreq's safe loader, set its
    ``cfg`` and ``dataset_meta`` (the checkpoint's, else the config's test
    dataset's) and put it in eval mode, with BN for SyncBN without CUDA. Like
    the host APIs, it leaves the host's scope as the registries' default.

    Args:
        config: Config file or :class:`mmengine.config.Config`.
        checkpoint: Checkpoint file or URL, in mmfreq's layout or a released
            one (:mod:`mmfreq.utils.weights`); None keeps the initial weights.
        device: Device to put the model on.
        cfg_options: Config keys to override, checked as ``--cfg-options``.
        strict: Refuse a checkpoint that does not fit the model exactly.

    Returns:
        The host's model: a segmentor, detector or classifier.

    Raises:
        CheckpointError: (a ValueError) the checkpoint cannot be read or does
            not fit, naming the file, the layout tried and the keys.
        CfgOptionError: (a ValueError) a ``cfg_options`` key the config does
            not have, naming the closest keys.
    """
    cfg = copy.deepcopy(config) if isinstance(config, Config) else Config.fromfile(config)
    apply_cfg_options(cfg, cfg_options)
    host = host_of(cfg)
    # The host builds without a checkpoint, so that its guess of the classes
    # (ADE20K, COCO, ImageNet) can be replaced by the config's below.
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='checkpoint is None')
        if host == 'mmseg':
            from mmseg.apis import init_model as init_segmentor
            model = init_segmentor(cfg, None, device=device)
        elif host == 'mmdet':
            from mmdet.apis import init_detector
            model = init_detector(cfg, None, device=device)
        else:
            from mmpretrain.apis import init_model as init_classifier
            model = init_classifier(cfg, None, device=device)
    if not torch.cuda.is_available():
        model = revert_sync_batchnorm(model)  # SyncBN's forward needs CUDA
    dataset_meta = None
    if checkpoint is not None:
        if '://' not in checkpoint and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist')
        with safe_checkpoint_loading():
            dataset_meta = dataset_meta_of(load_model_weights(model, checkpoint, strict=strict))
    model.dataset_meta = dict(dataset_meta or dataset_meta_from_config(cfg))
    model.cfg = cfg
    return model.to(device).eval()


def inference_model(model: torch.nn.Module, images: Union[Image, Sequence[Image]]
                    ) -> Union[BaseDataElement, List[BaseDataElement]]:
    """Run a model from :func:`init_model` on one image or a list of them.

    Args:
        model: A model from :func:`init_model` (it carries its config).
        images: Image files (read as 3-channel colour) or BGR uint8 arrays (H, W, 3).

    Returns:
        The host's data sample (``SegDataSample``, ``DetDataSample``,
        ``DataSample``) for one image, a list of them for a list.
    """
    host = host_of(model.cfg)
    batch = isinstance(images, (list, tuple))
    # Read files here: mmseg's inference_model switches its pipeline's loader
    # for arrays in place, so mixing files and arrays across calls breaks it.
    arrays = [mmcv.imread(image, 'color') if isinstance(image, str) else image
              for image in (images if batch else [images])]
    if host == 'mmseg':
        from mmseg.apis import inference_model as segment
        results = segment(model, arrays)
    elif host == 'mmdet':
        from mmdet.apis import inference_detector
        results = inference_detector(model, arrays)
    else:
        from mmpretrain.apis import ImageClassificationInferencer
        inferencer = ImageClassificationInferencer(model, device=next(model.parameters()).device,
                                                   classes=model.dataset_meta.get('classes'))
        results = inferencer(arrays, return_datasamples=True)
    return results if batch else results[0]
