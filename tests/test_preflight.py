"""The tools' pre-flight and the pipeline guard, in-process on small faulty copies."""
import json
import shutil

import numpy as np
import pytest
import torch
from mmengine.registry import DATASETS, init_default_scope
from PIL import Image

from mmfreq.datasets.preflight import PreflightError, guard_pipelines, preflight
from mmfreq.datasets.synthetic_scenes import write_coco
from mmfreq.datasets.transforms import SampleError
from mmfreq.testing.fixtures import image_path, label_path
from mmfreq.testing.messages import line_with
from mmfreq.testing.tools import ROOT, SYNTHETIC_CONFIG, read_config

LOADERS = ['train_dataloader', 'val_dataloader']


@pytest.fixture
def ade(synthetic_root, tmp_path):
    root = tmp_path / 'ade'
    shutil.copytree(synthetic_root, root)
    return root


def seg_config(root):
    init_default_scope('mmseg')
    cfg = read_config(SYNTHETIC_CONFIG)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(root)
    return cfg


def test_clean_data_passes(ade):
    assert preflight(seg_config(ade), LOADERS) == []


@pytest.mark.parametrize('num_classes', [4, 150])
def test_head_num_classes_against_the_dataset(ade, num_classes):
    cfg = seg_config(ade)
    cfg.model.decode_head.num_classes = num_classes
    with pytest.raises(PreflightError) as err:
        preflight(cfg, LOADERS)
    message = str(err.value)
    assert line_with(message, f'model.decode_head.num_classes={num_classes}',
                     'train_dataloader.dataset', '6 classes'), message
    assert '--skip-preflight' in message


def test_empty_images_folder_is_named(ade):
    folder = ade / 'images' / 'training'
    shutil.rmtree(folder)
    folder.mkdir()
    with pytest.raises(PreflightError, match=f"{folder}.*'.jpg'"):
        preflight(seg_config(ade), LOADERS)


def test_bad_label_among_the_first_samples_is_named(ade):
    path = label_path(ade, 2)
    label = np.asarray(Image.open(path)).copy()
    label[5, 5] = 99
    Image.fromarray(label).save(path)
    with pytest.raises(PreflightError, match=f'{path}: label values \\[99\\]'):
        preflight(seg_config(ade), LOADERS)


def guarded_dataset(root, split='train'):
    cfg = seg_config(root)
    guard_pipelines(cfg, [f'{split}_dataloader'])
    return DATASETS.build(cfg[f'{split}_dataloader'].dataset)


def index_of(dataset, path):
    return [i for i in range(len(dataset))
            if dataset.get_data_info(i)['img_path'] == str(path)][0]


def test_guard_keeps_a_good_sample_unchanged(ade):
    cfg = seg_config(ade)
    plain = DATASETS.build(cfg.val_dataloader.dataset)
    guarded = guarded_dataset(ade, 'val')
    assert guarded.pipeline.transforms[0].num_classes == 6
    for i in range(len(plain)):
        a, b = plain[i], guarded[i]
        assert torch.equal(a['inputs'], b['inputs'])
        assert torch.equal(a['data_samples'].gt_sem_seg.data, b['data_samples'].gt_sem_seg.data)


def test_guard_is_idempotent(ade):
    cfg = seg_config(ade)
    guard_pipelines(cfg, LOADERS)
    once = cfg.pretty_text
    guard_pipelines(cfg, LOADERS)
    assert cfg.pretty_text == once


def test_label_values_beyond_the_preflight_samples_stop_loading_with_the_file(ade):
    path = label_path(ade, 12)
    label = np.asarray(Image.open(path)).copy()
    label[:] = 99
    Image.fromarray(label).save(path)
    dataset = guarded_dataset(ade)
    # the file, the offending value as the model sees it, and why it moved
    with pytest.raises(SampleError, match=rf'{path}.*reduce_zero_label.*\[98\]'):
        dataset[index_of(dataset, image_path(ade, 12))]


def test_zero_byte_image_stops_loading_with_the_file(ade):
    image_path(ade, 7).write_bytes(b'')
    dataset = guarded_dataset(ade)
    with pytest.raises(SampleError, match=f'{image_path(ade, 7)}.*in LoadImageFromFile'):
        dataset[index_of(dataset, image_path(ade, 7))]


def test_label_of_another_size_stops_loading_with_the_file(ade):
    path = label_path(ade, 9)
    label = Image.open(path)
    label.resize((label.width, label.height + 5), Image.NEAREST).save(path)
    dataset = guarded_dataset(ade)
    with pytest.raises(SampleError, match=f'{path}: label is {label.width}x{label.height + 5}'):
        dataset[index_of(dataset, image_path(ade, 9))]


def test_rgb_label_stops_loading_with_the_file(ade):
    path = label_path(ade, 10)
    Image.open(path).convert('RGB').save(path)
    dataset = guarded_dataset(ade)
    with pytest.raises(SampleError, match=f'{path}: label has shape'):
        dataset[index_of(dataset, image_path(ade, 10))]


@pytest.fixture
def coco(tmp_path):
    root = tmp_path / 'coco'
    write_coco(str(root), num_train=4, num_val=2, seed=0)
    return root


def coco_config(root):
    init_default_scope('mmdet')
    cfg = read_config(ROOT / 'configs' / 'mask_rcnn_van_t_synthetic.py')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = f'{root}/'
    return cfg


def test_coco_malformed_json_is_named_with_its_position(coco):
    path = coco / 'annotations' / 'instances_val2017.json'
    path.write_text(path.read_text()[:-40])
    with pytest.raises(PreflightError, match=f'{path}.*JSON.*line 1 column'):
        preflight(coco_config(coco), LOADERS)


def test_coco_unknown_category_stops_and_zero_width_box_warns(coco):
    path = coco / 'annotations' / 'instances_train2017.json'
    data = json.loads(path.read_text())
    data['annotations'][0]['bbox'][2] = 0
    path.write_text(json.dumps(data))
    (warning,) = preflight(coco_config(coco), LOADERS)
    assert warning.path == str(path) and 'degenerate box' in warning.message

    data['annotations'][1]['category_id'] = 9
    path.write_text(json.dumps(data))
    with pytest.raises(PreflightError, match='category_id 9.*"categories"'):
        preflight(coco_config(coco), LOADERS)
