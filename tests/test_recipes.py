"""Every full-size config trains with the recipe of its official source.

For each config the test builds the model, its optim wrapper (mmengine's
constructor on the built model), its param schedulers and its train pipeline,
and compares them with a row of ``RECIPES``, written from the official
configs (each row names its source). Where no official config exists the row
says so and pins mmfreq's own choice, so that a change is still deliberate.
"""
import functools
from typing import Dict, List, Optional, Tuple

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope

from mmfreq.apis import build_model_from_config
from mmfreq.testing.tools import ROOT

# The ADE20K and COCO train scales of the official configs.
ADE_SCALES = dict(scale=(2048, 512), ratio_range=(0.5, 2.0), crop=(512, 512))
COCO_1X_SCALES = dict(short=(800, ), long=1333)  # mmdet's 1x: one scale
COCO_MS_SCALES = dict(short=tuple(range(480, 801, 32)), long=1333)  # Swin/Focal multi-scale
# Swin-Transformer-Object-Detection's multi-scale crop branch: 400-600, crop, 480-800
COCO_MS_CROP_SCALES = dict(short=tuple(range(480, 801, 32)) + (400, 500, 600), long=1333,
                           crop=(384, 600))

# Decay exemptions by substring of the parameter name ('1-D': every 1-D parameter).
SWIN_NO_DECAY = ('absolute_pos_embed', 'relative_position_bias_table', 'norm')


def recipe(*, optimizer: Tuple[str, float, float], no_decay: Tuple[str, ...],
           batch: Tuple[int, int], schedule: Tuple[str, int],
           warmup: Optional[Tuple[int, float]], decay: tuple,
           drop_path: float, scales: dict, lr_mult: Dict[str, float] = None,
           layer_decay: Optional[Tuple[float, int]] = None) -> dict:
    """One row: optimizer (type, lr, weight decay); substrings exempt from decay;
    images per GPU x GPUs; ('iters' | 'epochs', length); warm-up (iterations,
    start factor); ('poly', power, final lr) or ('step', milestones); drop path; train
    scales; lr multipliers by substring; layer decay (rate, layers)."""
    return dict(optimizer=optimizer, no_decay=no_decay, batch=batch, schedule=schedule,
                warmup=warmup, decay=decay, drop_path=drop_path, scales=scales,
                lr_mult=lr_mult or {}, layer_decay=layer_decay)


# VAN-Segmentation configs/upernet/1k_pretrained/upernet_van_b{0..3}_512x512_160k_ade20k.py
# (8 GPUs x 2, AdamW 6e-5 / 0.01, Swin's exemptions, warm-up 1500 from 1e-6, poly 1.0;
# drop path 0.1 from _base_/models/upernet_van.py, 0.3 for B3)
VAN_UPERNET = functools.partial(
    recipe, optimizer=('AdamW', 6e-5, 0.01), no_decay=SWIN_NO_DECAY, batch=(2, 8),
    schedule=('iters', 160000), warmup=(1500, 1e-6), decay=('poly', 1.0, 0.0), scales=ADE_SCALES)
# VAN-Segmentation configs/sem_fpn/fpn_van_b{0..3}_ade20k_40k.py (8 GPUs x 4, AdamW 2e-4 /
# 1e-4 on every parameter, poly 0.9, no warm-up, 40k; drop path 0.2, 0.3 for B3)
VAN_FPN = functools.partial(
    recipe, optimizer=('AdamW', 2e-4, 1e-4), no_decay=(), batch=(4, 8),
    schedule=('iters', 40000), warmup=None, decay=('poly', 0.9, 0.0), scales=ADE_SCALES)
# Swin-Transformer-Object-Detection mask_rcnn_swin_tiny_patch4_window7_mstrain_480-800_adamw_
# {1x,3x}_coco.py with its schedule_1x.py (500 warm-up iterations from 1e-3), which the Focal
# README says its detection follows; drop path: Focal's ImageNet configs (T 0.2; S, B 0.3)
FOCAL_DET_1X = functools.partial(
    recipe, optimizer=('AdamW', 1e-4, 0.05), no_decay=SWIN_NO_DECAY, batch=(2, 8),
    schedule=('epochs', 12), warmup=(500, 1e-3), decay=('step', (8, 11)))
FOCAL_DET_3X = functools.partial(
    FOCAL_DET_1X, schedule=('epochs', 36), decay=('step', (27, 33)))
# The official FDAM config FDAM_mmseg/configs/vit/upernet_deit3-b16_512x512_160k_ade20k_freq.py
# (8 GPUs x 4, AdamW 6e-5 / 0.01, layer decay 0.95 over 12, decay exemptions pos_embed /
# cls_token / norm, lr_mult 2 on freq_scale, warm-up 1500, poly 1.0; drop path 0.15)
FDAM_UPERNET = functools.partial(
    recipe, optimizer=('AdamW', 6e-5, 0.01), no_decay=('pos_embed', 'cls_token', 'norm'),
    batch=(4, 8), schedule=('iters', 160000), warmup=(1500, 1e-6), decay=('poly', 1.0, 0.0),
    drop_path=0.15, scales=ADE_SCALES, layer_decay=(0.95, 12))
# mmdet 3.3.0 / mmseg 1.2.2 baselines, unchanged: mask-rcnn_r50_fpn_1x_coco (8 GPUs x 2,
# SGD 0.02 / 1e-4; RetinaNet lr 0.01), upernet_r50_4xb4-160k_ade20k-512x512 (4 GPUs x 4,
# SGD 0.01 / 5e-4)
MMDET_R50_1X = functools.partial(
    recipe, optimizer=('SGD', 0.02, 1e-4), no_decay=(), batch=(2, 8), schedule=('epochs', 12),
    warmup=(500, 1e-3), decay=('step', (8, 11)), drop_path=0.0, scales=COCO_1X_SCALES)
MMSEG_R50 = functools.partial(
    recipe, optimizer=('SGD', 0.01, 5e-4), no_decay=(), batch=(4, 4),
    schedule=('iters', 160000), warmup=None, decay=('poly', 0.9, 1e-4), drop_path=0.0,
    scales=ADE_SCALES)
# VAN released no detection configs: mmfreq's choice, mmdet's 1x with AdamW 1e-4 / 0.05,
# no decay on norms and layer scales
VAN_DET_1X = functools.partial(
    recipe, optimizer=('AdamW', 1e-4, 0.05), no_decay=('norm', 'layer_scale'), batch=(2, 8),
    schedule=('epochs', 12), warmup=(500, 1e-3), decay=('step', (8, 11)), drop_path=0.1,
    scales=COCO_1X_SCALES)

# mmseg 1.2.2 segformer/segformer_mit-b{0,1,2}_8xb2-160k_ade20k-512x512.py (8 GPUs x 2, AdamW
# 6e-5 / 0.01, no decay on 'pos_block' / 'norm', lr x 10 on 'head', warm-up 1500 from 1e-6,
# poly 1.0 to 0; drop path 0.1 from _base_/models/segformer_mit-b0.py); the FDAM rows add
# lr x 2 on freq_scale, as the official FDAM config
MMSEG_SEGFORMER = functools.partial(
    recipe, optimizer=('AdamW', 6e-5, 0.01), no_decay=('pos_block', 'norm'), batch=(2, 8),
    schedule=('iters', 160000), warmup=(1500, 1e-6), decay=('poly', 1.0, 0.0), drop_path=0.1,
    scales=ADE_SCALES)

# mmseg 0.x configs/vit/upernet_deit-s16_512x512_160k_ade20k.py, the run behind mmseg's 42.87
# (8 GPUs x 2, AdamW 6e-5 / 0.01, no decay on pos_embed / cls_token, warm-up 1500 from 1e-6,
# poly 1.0, 160k; drop path 0.1); the FDAM row adds lr x 2 on freq_scale
DEIT_S_UPERNET = functools.partial(
    recipe, optimizer=('AdamW', 6e-5, 0.01), no_decay=('pos_embed', 'cls_token'), batch=(2, 8),
    schedule=('iters', 160000), warmup=(1500, 1e-6), decay=('poly', 1.0, 0.0), drop_path=0.1,
    scales=ADE_SCALES)

RECIPES = {
    'upernet_deit_s.py': DEIT_S_UPERNET(),
    'upernet_deit_s_fdam.py': DEIT_S_UPERNET(lr_mult={'freq_scale': 2.0}),
    'segformer_mit_b0.py': MMSEG_SEGFORMER(lr_mult={'head': 10.0}),
    'segformer_mit_b0_fdam.py': MMSEG_SEGFORMER(lr_mult={'head': 10.0, 'freq_scale': 2.0}),
    'segformer_mit_b1.py': MMSEG_SEGFORMER(lr_mult={'head': 10.0}),
    'segformer_mit_b1_fdam.py': MMSEG_SEGFORMER(lr_mult={'head': 10.0, 'freq_scale': 2.0}),
    'segformer_mit_b2.py': MMSEG_SEGFORMER(lr_mult={'head': 10.0}),
    'segformer_mit_b2_fdam.py': MMSEG_SEGFORMER(lr_mult={'head': 10.0, 'freq_scale': 2.0}),
    'upernet_van_t.py': VAN_UPERNET(drop_path=0.1),
    'upernet_van_s.py': VAN_UPERNET(drop_path=0.1),
    'upernet_van_b.py': VAN_UPERNET(drop_path=0.1),
    'upernet_van_l.py': VAN_UPERNET(drop_path=0.3),
    'fpn_van_t.py': VAN_FPN(drop_path=0.2),
    'fpn_van_s.py': VAN_FPN(drop_path=0.2),
    'fpn_van_b.py': VAN_FPN(drop_path=0.2),
    'fpn_van_l.py': VAN_FPN(drop_path=0.3),
    'mask_rcnn_van_b_1x.py': VAN_DET_1X(),
    'retinanet_van_b_1x.py': VAN_DET_1X(),
    'mask_rcnn_focal_t_1x.py': FOCAL_DET_1X(drop_path=0.2, scales=COCO_MS_CROP_SCALES),
    'mask_rcnn_focal_s_1x.py': FOCAL_DET_1X(drop_path=0.3, scales=COCO_MS_CROP_SCALES),
    'mask_rcnn_focal_b_1x.py': FOCAL_DET_1X(drop_path=0.3, scales=COCO_MS_CROP_SCALES),
    'mask_rcnn_focal_t_3x.py': FOCAL_DET_3X(drop_path=0.2, scales=COCO_MS_CROP_SCALES),
    'mask_rcnn_focal_s_3x.py': FOCAL_DET_3X(drop_path=0.3, scales=COCO_MS_CROP_SCALES),
    'mask_rcnn_focal_b_3x.py': FOCAL_DET_3X(drop_path=0.3, scales=COCO_MS_CROP_SCALES),
    # Swin's detection repo has no RetinaNet config: its optimizer and schedule with the
    # multi-scale resize (no crop branch), mmfreq's choice; the exemptions are Swin's
    'retinanet_focal_t_1x.py': FOCAL_DET_1X(drop_path=0.2, scales=COCO_MS_SCALES),
    'retinanet_focal_s_1x.py': FOCAL_DET_1X(drop_path=0.3, scales=COCO_MS_SCALES),
    'retinanet_focal_b_1x.py': FOCAL_DET_1X(drop_path=0.3, scales=COCO_MS_SCALES),
    'retinanet_focal_t_3x.py': FOCAL_DET_3X(drop_path=0.2, scales=COCO_MS_SCALES),
    'retinanet_focal_s_3x.py': FOCAL_DET_3X(drop_path=0.3, scales=COCO_MS_SCALES),
    'retinanet_focal_b_3x.py': FOCAL_DET_3X(drop_path=0.3, scales=COCO_MS_SCALES),
    # Swin-Transformer-Semantic-Segmentation upernet_swin_tiny_patch4_window7_512x512_160k_
    # ade20k.py, which the Focal README says its segmentation follows; Focal-T's drop path
    'upernet_focal_t.py': VAN_UPERNET(drop_path=0.2),
    'upernet_focal_t_fdam.py': VAN_UPERNET(drop_path=0.2, lr_mult={'freq_scale': 2.0}),
    'upernet_vit_b.py': FDAM_UPERNET(),
    'upernet_fdam_vit_b.py': FDAM_UPERNET(lr_mult={'freq_scale': 2.0}),
    'upernet_fdam_vit_b_neck_freq_scale.py': FDAM_UPERNET(lr_mult={'freq_scale': 2.0}),
    # no official FDAM detection or Semantic-FPN configs: mmfreq's choices (ViTDet-like)
    'mask_rcnn_fdam_vit_b_1x.py': recipe(
        optimizer=('AdamW', 1e-4, 0.1), no_decay=('pos_embed', '1-D'), batch=(2, 8),
        schedule=('epochs', 12), warmup=(500, 1e-3), decay=('step', (8, 11)), drop_path=0.1,
        scales=COCO_1X_SCALES, lr_mult={'freq_scale': 2.0}, layer_decay=(0.7, 12)),
    'fpn_fdam_vit_s.py': recipe(
        optimizer=('AdamW', 1e-4, 0.01), no_decay=('pos_embed', '1-D'), batch=(4, 8),
        schedule=('iters', 40000), warmup=None, decay=('poly', 0.9, 0.0), drop_path=0.1,
        scales=ADE_SCALES, lr_mult={'freq_scale': 2.0}, layer_decay=(0.9, 12)),
    'mask_rcnn_r50_1x.py': MMDET_R50_1X(),
    'retinanet_r50_1x.py': MMDET_R50_1X(optimizer=('SGD', 0.01, 1e-4)),
    'upernet_r50.py': MMSEG_R50(),
    # the AA paper's detectors: its RetinaNet recipe is not public; like for like with
    # the baselines above (mmfreq's choice)
    'mask_rcnn_aa_r50_1x.py': MMDET_R50_1X(),
    'retinanet_aa_r50_1x.py': MMDET_R50_1X(optimizer=('SGD', 0.01, 1e-4)),
    'upernet_aa_r50.py': MMSEG_R50(),
}


def test_every_full_size_config_has_a_recipe():
    # *_released.py configs evaluate published trained models (checked against
    # them in tests/test_released_models.py) and keep the recipe they inherit;
    # *_detail.py configs are CPU-sized, as the synthetic ones
    configs = {p.name for p in (ROOT / 'configs').glob('*.py')
               if 'synthetic' not in p.name
               and not p.name.endswith(('_in1k.py', '_released.py', '_detail.py'))}
    assert configs == set(RECIPES), 'add the new config to RECIPES, with its source'


@functools.lru_cache(maxsize=None)
def built(name: str) -> Tuple[Config, torch.nn.Module]:
    config = str(ROOT / 'configs' / name)
    return Config.fromfile(config), build_model_from_config(config)


def expected_lr_and_decay(row: dict, name: str, param: torch.Tensor) -> Tuple[float, float]:
    """The row's lr and weight decay for a parameter. As in mmengine's (and mmcv 1.x's)
    constructor, the longest matching custom key decides alone; '1-D' applies only
    to parameters no key matches."""
    _, lr, weight_decay = row['optimizer']
    custom = {key: dict(lr_mult=mult) for key, mult in row['lr_mult'].items()}
    for key in row['no_decay']:
        if key != '1-D':
            custom.setdefault(key, {})['decay_mult'] = 0.0
    matching = [key for key in sorted(sorted(custom), key=len, reverse=True) if key in name]
    if matching:
        lr *= custom[matching[0]].get('lr_mult', 1.0)
        weight_decay *= custom[matching[0]].get('decay_mult', 1.0)
    elif '1-D' in row['no_decay'] and param.ndim == 1:
        weight_decay = 0.0
    if row['layer_decay'] is not None:
        rate, layers = row['layer_decay']
        if name.startswith(('backbone.pos_embed', 'backbone.cls_token', 'backbone.patch_embed')):
            depth = 0
        elif name.startswith('backbone.layers.'):
            depth = int(name.split('.')[2]) + 1
        else:
            depth = layers + 1
        lr *= rate**(layers + 1 - depth)
    return lr, weight_decay


def short_sides(transforms: List[dict]) -> Tuple[set, set, Optional[tuple]]:
    """(short sides, long sides, crop size) a detection train pipeline can resize to."""
    short, long, crop = set(), set(), None
    for t in transforms:
        if t['type'] == 'RandomChoice':
            for branch in t['transforms']:
                s, lng, c = short_sides(branch)
                short, long, crop = short | s, long | lng, crop or c
        elif t['type'] in ('Resize', 'RandomChoiceResize'):
            scales = t['scales'] if 'scales' in t else [t['scale']]
            short |= {min(s) for s in scales}
            long |= {max(s) for s in scales}
        elif t['type'] == 'RandomCrop':
            crop = tuple(t['crop_size'])
    return short, long, crop


@pytest.mark.slow  # builds ~35 full-size models: about 2 minutes on 2 cores
@pytest.mark.parametrize('name', sorted(RECIPES))
def test_recipe_matches_the_official_config(name):
    row = RECIPES[name]
    cfg, model = built(name)
    init_default_scope(cfg.default_scope)

    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    optimizer = wrapper.optimizer
    kind, lr, weight_decay = row['optimizer']
    assert (type(optimizer).__name__, optimizer.defaults['lr'],
            optimizer.defaults['weight_decay']) == (kind, lr, weight_decay)
    names = {id(p): n for n, p in model.named_parameters()}
    wrong = []
    for group in optimizer.param_groups:
        for param in group['params']:
            expected = expected_lr_and_decay(row, names[id(param)], param)
            if group['lr'] != pytest.approx(expected[0]) or \
                    group['weight_decay'] != pytest.approx(expected[1]):
                wrong.append((names[id(param)], (group['lr'], group['weight_decay']), expected))
    assert not wrong, f'{name}: (lr, weight decay) differ from the recipe: {wrong[:5]}'

    images, gpus = row['batch']
    assert cfg.train_dataloader.batch_size == images
    if 'auto_scale_lr' in cfg:
        assert cfg.auto_scale_lr.base_batch_size == images * gpus

    unit, length = row['schedule']
    assert cfg.train_cfg[f'max_{unit}'] == length
    schedulers = [PARAM_SCHEDULERS.build(s, default_args=dict(optimizer=wrapper))
                  for s in cfg.param_scheduler]
    warmups = [s for s in schedulers if type(s).__name__ == 'LinearLR']
    if row['warmup'] is None:
        assert not warmups
    else:
        (warmup, ) = warmups
        assert (warmup.end, warmup.by_epoch, warmup.start_factor) == \
            (row['warmup'][0], False, pytest.approx(row['warmup'][1]))
    (main, ) = [s for s in schedulers if s not in warmups]
    if row['decay'][0] == 'poly':
        assert (type(main).__name__, main.power, main.eta_min, main.end) == \
            ('PolyLR', *row['decay'][1:], length)
    else:
        assert (type(main).__name__, tuple(sorted(main.milestones)), main.end) == \
            ('MultiStepLR', row['decay'][1], length)

    drop_probs = [m.drop_prob for m in model.modules() if hasattr(m, 'drop_prob')]
    assert max(drop_probs, default=0.0) == pytest.approx(row['drop_path'])

    pipeline = cfg.train_dataloader.dataset.pipeline
    Compose(pipeline)  # the pipeline builds in the config's scope
    scales = row['scales']
    if 'ratio_range' in scales:
        (resize, ) = [t for t in pipeline if t['type'] == 'RandomResize']
        (crop, ) = [t for t in pipeline if t['type'] == 'RandomCrop']
        assert (tuple(resize['scale']), tuple(resize['ratio_range']), tuple(crop['crop_size'])) \
            == (scales['scale'], scales['ratio_range'], scales['crop'])
    else:
        short, long, crop = short_sides(pipeline)
        assert (short, long, crop) == (set(scales['short']), {scales['long']},
                                       scales.get('crop'))

