"""The detail scenes: layout, determinism, and the properties their classes are
built for (thin structures, stripes of one mean colour, dots beside shapes)."""
import cv2
import numpy as np
import pytest
from PIL import Image

from mmfreq.datasets.detail_scenes import (
    CLASSES,
    DOT,
    OUTLINE,
    PALETTE,
    SIZE,
    WIRE,
    make_detail_scene,
    write_detail,
    write_preview,
)
from mmfreq.testing.tools import ROOT, run_tool, small_run_options
from tests.test_synthetic_data import digest

FINE, COARSE, VERTICAL = 2, 3, 4
SHAPE_CLASSES = (5, 6, 7)


@pytest.fixture(scope='module')
def scenes():
    rng = np.random.default_rng(0)
    return [make_detail_scene(rng) for _ in range(24)]


@pytest.fixture(scope='module')
def detail_root(tmp_path_factory):
    """A tiny copy: 8 training and 2 validation scenes."""
    root = tmp_path_factory.mktemp('synthetic_detail')
    write_detail(str(root), num_train=8, num_val=2, seed=0)
    return root


def test_layout_is_ade20k_with_png_images(detail_root):
    assert sorted(p.name for p in (detail_root / 'images' / 'validation').iterdir()) == [
        'ADE_val_00000001.png', 'ADE_val_00000002.png']
    image = Image.open(detail_root / 'images' / 'training' / 'ADE_train_00000008.png')
    label = Image.open(detail_root / 'annotations' / 'training' / 'ADE_train_00000008.png')
    assert (image.mode, label.mode, image.size, label.size) == (
        'RGB', 'L', (SIZE, SIZE), (SIZE, SIZE))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    write_detail(str(tmp_path / 'a'), num_train=2, num_val=1, seed=3)
    write_detail(str(tmp_path / 'b'), num_train=2, num_val=1, seed=3)
    write_detail(str(tmp_path / 'c'), num_train=2, num_val=1, seed=4)
    assert digest(tmp_path / 'a') == digest(tmp_path / 'b')
    assert digest(tmp_path / 'a') != digest(tmp_path / 'c')


def test_every_class_appears_and_every_pixel_is_labelled(scenes):
    seen = set()
    for _, label in scenes:
        seen.update(np.unique(label).tolist())
    assert seen == set(range(1, len(CLASSES) + 1)) and len(PALETTE) == len(CLASSES)


def test_wires_and_outlines_are_at_most_three_pixels_thick(scenes):
    kernel = np.ones((5, 5), np.uint8)
    for cls in (WIRE, OUTLINE):
        total = kept = 0
        for _, label in scenes:
            mask = (label == cls).astype(np.uint8)
            total += mask.sum()
            kept += cv2.erode(mask, kernel).sum()  # where a 5 x 5 square fits: crossings only
        assert total > 0 and kept < 0.02 * total, CLASSES[cls - 1]


def test_the_stripe_classes_share_their_mean_colour(scenes):
    compared = 0
    for image, label in scenes:
        means = {cls: image[label == cls].mean(0) for cls in (FINE, COARSE, VERTICAL)
                 if (label == cls).sum() > 400}
        for a in means:
            for b in means:
                assert np.abs(means[a] - means[b]).max() < 10, (a, b)
                compared += a < b
    assert compared >= 5


def test_fine_and_vertical_stripes_differ_in_orientation_only(scenes):
    def energy_along(image, mask, axis):
        grey = image.mean(2)
        diff = np.abs(np.diff(grey, axis=axis))
        inside = mask[1:, :] & mask[:-1, :] if axis == 0 else mask[:, 1:] & mask[:, :-1]
        return diff[inside].mean()

    for image, label in scenes:
        for cls, axis in ((FINE, 0), (VERTICAL, 1)):
            mask = label == cls
            if mask.sum() > 400:  # the stripes vary across their direction, hardly along it
                assert energy_along(image, mask, axis) > 2 * energy_along(image, mask, 1 - axis)


def test_dots_are_small_and_beside_a_shape(scenes):
    near = np.ones((9, 9), np.uint8)
    areas, beside = [], 0
    for _, label in scenes:
        shapes = np.isin(label, SHAPE_CLASSES).astype(np.uint8)
        count, parts, stats, _ = cv2.connectedComponentsWithStats((label == DOT).astype(np.uint8))
        areas += stats[1:, cv2.CC_STAT_AREA].tolist()
        touching = cv2.dilate(shapes, near).astype(bool)
        beside += sum(touching[parts == part].any() for part in range(1, count))
    # a dot covers at most pi * 3.5 ** 2 pixels; two or three may merge
    assert len(areas) >= 10 and np.median(areas) <= 40 and max(areas) <= 120
    assert beside >= 0.9 * len(areas)


def test_preview_is_a_grid_of_images_over_labels(detail_root, tmp_path):
    write_preview(str(detail_root), str(tmp_path / 'grid.png'), count=3, zoom=1)
    grid = Image.open(tmp_path / 'grid.png')
    assert grid.size == (3 * SIZE + 2 * 4, 2 * SIZE + 4 + 40)


def test_dataset_reads_the_scenes_with_the_detail_classes(detail_root):
    from mmengine.registry import init_default_scope

    from mmfreq.registry import DATASETS

    init_default_scope('mmseg')
    dataset = DATASETS.build(dict(
        type='mmfreq.SyntheticDetailDataset', data_root=str(detail_root),
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=[]))
    assert len(dataset) == 8 and dataset.metainfo['classes'] == CLASSES
    assert dataset[0]['img_path'].endswith('ADE_train_00000001.png')
    assert dataset[0]['reduce_zero_label']


def test_the_detail_configs_share_data_and_metrics_and_scale_the_schedule():
    import runpy

    from mmengine.config import Config

    # what each host's detail config sets over its *_synthetic.py base
    own = {name: runpy.run_path(str(ROOT / 'configs' / f'{name}_detail.py'))
           for name in ('segformer_mit_b0', 'upernet_deit_s')}
    mit, vit = own['segformer_mit_b0'], own['upernet_deit_s']
    for key in ('dataset_type', 'data_root', 'train_dataloader', 'val_dataloader',
                'test_dataloader', 'val_evaluator', 'test_evaluator', 'default_hooks'):
        assert mit[key] == vit[key], key
    # the ViT's patch of 8 px is larger than a dot: it needs twice SegFormer-B0's
    # iterations to learn them (docs/fdam_hosts.md, "The configs")
    assert vit['max_iters'] == 2 * mit['max_iters']
    assert vit['train_cfg'] == {**mit['train_cfg'], 'max_iters': vit['max_iters']}
    warmup, poly = mit['param_scheduler']
    assert vit['param_scheduler'] == [warmup, {**poly, 'end': vit['max_iters']}]
    assert vit['model']['auxiliary_head']['num_classes'] == len(CLASSES)
    for name in own:
        cfg = Config.fromfile(ROOT / 'configs' / f'{name}_detail.py',
                              import_custom_modules=False)
        assert cfg.param_scheduler[1].end == cfg.train_cfg.max_iters, name
        assert cfg.model.decode_head.num_classes == len(CLASSES), name
        assert [m.type for m in cfg.val_evaluator] == ['IoUMetric', 'mmfreq.BoundaryIoUMetric']
        assert cfg.train_dataloader.dataset.type == 'mmfreq.SyntheticDetailDataset'
        assert cfg.test_dataloader.dataset.data_root == 'data/synthetic_detail'


@pytest.mark.slow
def test_fdam_detail_config_trains_and_reports_miou_and_mbiou(detail_root, tmp_path):
    result = run_tool(['tools/train.py', ROOT / 'configs' / 'segformer_mit_b0_fdam_detail.py',
                       '--work-dir', tmp_path, '--cfg-options',
                       *small_run_options(detail_root, max_iters=2, interval=2)])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert 'mIoU:' in output and 'mBIoU:' in output and 'per class boundary IoU' in output
