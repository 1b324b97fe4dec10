"""The dataset doctor on small copies of the built-in data, one fault per copy."""
import json
import shutil

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from mmfreq.datasets.doctor import (
    Kind,
    SegLabelRules,
    Severity,
    check_dataset,
    check_heads,
    expected_num_classes,
)
from mmfreq.datasets.synthetic_scenes import CLASSES, COCO_CLASSES, write_coco
from mmfreq.testing.fixtures import image_path, label_path
from mmfreq.testing.tools import ROOT, SYNTHETIC_CONFIG, read_config

COCO_CONFIG = ROOT / 'configs' / 'mask_rcnn_van_t_synthetic.py'


@pytest.fixture
def ade(synthetic_root, tmp_path):
    """A private copy of the 16 + 4 scene ADE-format dataset."""
    root = tmp_path / 'ade'
    shutil.copytree(synthetic_root, root)
    return root


@pytest.fixture(scope='module')
def coco_master(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco')
    write_coco(str(root), num_train=6, num_val=2, seed=0)
    return root


@pytest.fixture
def coco(coco_master, tmp_path):
    root = tmp_path / 'coco'
    shutil.copytree(coco_master, root)
    return root


def seg_dataset_cfg(root, split='train'):
    init_default_scope('mmseg')
    cfg = read_config(SYNTHETIC_CONFIG)
    dataset = cfg[f'{split}_dataloader'].dataset
    dataset.data_root = str(root)
    return cfg, dataset


def coco_dataset_cfg(root, split='train'):
    init_default_scope('mmdet')
    cfg = read_config(COCO_CONFIG)
    dataset = cfg[f'{split}_dataloader'].dataset
    dataset.data_root = f'{root}/'
    return cfg, dataset


def check_seg(root, split='train', **kwargs):
    _, dataset = seg_dataset_cfg(root, split)
    return check_dataset(dataset, f'{split}_dataloader.dataset', **kwargs)


def only_finding(report):
    assert len(report.findings) == 1, [str(f) for f in report.findings]
    return report.findings[0]


def test_clean_ade_copy_has_no_findings_and_counts_every_labelled_pixel(ade):
    report = check_seg(ade)
    assert report.findings == []
    assert (report.num_samples, report.num_checked) == (16, 16)
    assert report.classes == CLASSES
    # independent count: stored value v >= 1 is class v - 1 (reduce_zero_label)
    expected = np.zeros(len(CLASSES), np.int64)
    for path in (ade / 'annotations' / 'training').iterdir():
        values = np.asarray(Image.open(path)).ravel()
        expected += np.bincount(values, minlength=len(CLASSES) + 1)[1:]
    assert list(report.class_counts.values()) == expected.tolist()


def test_label_values_above_the_classes_are_named_with_the_file(ade):
    path = label_path(ade, 5)
    label = np.asarray(Image.open(path)).copy()
    label[:3, :3] = 99
    label[-1, -1] = 7  # class 6 after reduce_zero_label: one past the last
    Image.fromarray(label).save(path)
    finding = only_finding(check_seg(ade))
    assert finding.path == str(path)
    assert '[7, 99]' in finding.message and 'reduce_zero_label' in finding.message


def test_target_table_follows_reduce_zero_label_then_the_class_remapping():
    """mmseg's documented conventions, written out for every stored value 0..255."""
    stored = np.arange(256)
    reduced = np.where(stored == 0, 255, stored - 1)
    reduced[reduced == 254] = 255  # stored 255 stays ignored
    label_map = {0: 3, 4: 255}
    for reduce_zero_label, mapping in ((True, None), (False, None), (True, label_map),
                                       (False, label_map)):
        expected = (reduced if reduce_zero_label else stored).copy()
        before = expected.copy()
        for old, new in (mapping or {}).items():  # applied to the values before remapping
            expected[before == old] = new
        rules = SegLabelRules(6, reduce_zero_label, mapping, 255)
        assert rules.target_table().tolist() == expected.tolist()


def test_label_of_another_size_is_named_with_both_sizes(ade):
    path = label_path(ade, 2)
    label = Image.open(path)
    small = label.resize((label.width - 8, label.height), Image.NEAREST)
    small.save(path)
    finding = only_finding(check_seg(ade))
    assert finding.path == str(path)
    assert f'{label.width - 8}x{label.height}' in finding.message
    assert f'{label.width}x{label.height}' in finding.message


def test_rgb_label_is_named(ade):
    path = label_path(ade, 4)
    Image.open(path).convert('RGB').save(path)
    finding = only_finding(check_seg(ade))
    assert finding.path == str(path) and '3 channels' in finding.message


def test_zero_byte_and_corrupt_images_are_named(ade):
    image_path(ade, 1).write_bytes(b'')
    image_path(ade, 9).write_bytes(b'\xff\xd8 not a jpeg')
    report = check_seg(ade)
    messages = {f.path: f.message for f in report.findings}
    assert messages == {str(image_path(ade, 1)): 'empty file (0 bytes)',
                        str(image_path(ade, 9)): messages[str(image_path(ade, 9))]}
    assert 'cannot be decoded' in messages[str(image_path(ade, 9))]


def test_rgba_png_among_jpegs_is_reported_not_skipped(ade):
    jpg = image_path(ade, 3)
    png = jpg.with_suffix('.png')
    Image.open(jpg).convert('RGBA').save(png)
    jpg.unlink()
    report = check_seg(ade)
    by_path = {f.path: f.message for f in report.findings}
    assert set(by_path) == {str(png), str(label_path(ade, 3))}
    assert "only images ending in '.jpg'" in by_path[str(png)]
    assert 'label without an image' in by_path[str(label_path(ade, 3))]
    assert report.num_samples == 15


def test_image_without_label_is_named(ade):
    label_path(ade, 6).unlink()
    finding = only_finding(check_seg(ade))
    assert finding.path == str(image_path(ade, 6)) and 'has no label' in finding.message


def test_empty_images_folder_is_named(ade):
    folder = ade / 'images' / 'validation'
    for path in folder.iterdir():
        path.unlink()
    report = check_seg(ade, 'val')
    folder_findings = [f for f in report.findings if f.path == str(folder)]
    assert len(folder_findings) == 1
    assert "no images ending in '.jpg'" in folder_findings[0].message
    # and each label is now orphaned
    assert sum('label without an image' in f.message for f in report.findings) == 4


def test_max_samples_limits_decoding_but_not_listing(ade):
    image_path(ade, 16).write_bytes(b'')
    label_path(ade, 1).unlink()
    report = check_seg(ade, max_samples=4)
    assert report.num_checked == 4
    assert [f.path for f in report.findings] == [str(image_path(ade, 1))]


def test_parallel_and_serial_scans_agree(ade):
    path = label_path(ade, 8)
    label = np.asarray(Image.open(path)).copy()
    label[0, 0] = 50
    Image.fromarray(label).save(path)
    serial = check_seg(ade, workers=1)
    parallel = check_seg(ade, workers=4)
    assert serial.findings == parallel.findings and len(serial.findings) == 1
    assert serial.class_counts == parallel.class_counts


@pytest.mark.parametrize('num_classes', [4, 150])
def test_heads_against_the_dataset_classes(ade, num_classes):
    cfg, _ = seg_dataset_cfg(ade)
    assert check_heads(cfg.model, CLASSES, 'train_dataloader.dataset') == []
    cfg.model.decode_head.num_classes = num_classes
    (finding,) = check_heads(cfg.model, CLASSES, 'train_dataloader.dataset')
    assert finding.path == 'model.decode_head.num_classes'
    assert f'num_classes={num_classes}' in finding.message
    assert 'train_dataloader.dataset' in finding.message and '6 classes' in finding.message


def test_expected_num_classes_skips_the_class_agnostic_rpn():
    cfg = read_config(COCO_CONFIG)
    assert expected_num_classes(cfg.model) == [
        ('model.roi_head.bbox_head.num_classes', 4), ('model.roi_head.mask_head.num_classes', 4)]


def check_coco(root, split='train', **kwargs):
    _, dataset = coco_dataset_cfg(root, split)
    return check_dataset(dataset, f'{split}_dataloader.dataset', **kwargs)


def ann_file(root, split='train2017'):
    return root / 'annotations' / f'instances_{split}.json'


def edit_json(root, edit):
    path = ann_file(root)
    coco = json.loads(path.read_text())
    edit(coco)
    path.write_text(json.dumps(coco))
    return coco


def test_clean_coco_copy_has_no_findings_and_counts_instances(coco):
    report = check_coco(coco)
    assert report.findings == []
    assert report.kind is Kind.COCO and report.classes == COCO_CLASSES
    anns = json.loads(ann_file(coco).read_text())
    names = {c['id']: c['name'] for c in anns['categories']}
    expected = {name: 0 for name in COCO_CLASSES}
    for ann in anns['annotations']:
        expected[names[ann['category_id']]] += 1
    assert report.class_counts == expected
    assert (report.num_samples, report.num_checked) == (6, 6)


def test_malformed_json_names_the_file_and_position(coco):
    path = ann_file(coco)
    text = path.read_text()
    at = text.index('"annotations"')
    path.write_text(text[:at] + '}' + text[at:])  # '{..., }"annotations"...'
    finding = only_finding(check_coco(coco))
    assert finding.path == str(path)
    # the parser's own reason, with where it stopped
    assert 'JSON' in finding.message and 'Expecting property name' in finding.message
    assert f'line 1 column {at + 1} (char {at})' in finding.message


def test_unknown_category_and_zero_width_box_are_reported(coco):
    coco_json = edit_json(coco, lambda c: (c['annotations'][0].update(category_id=77),
                                           c['annotations'][1]['bbox'].__setitem__(2, 0)))
    report = check_coco(coco)
    first, second = coco_json['annotations'][:2]
    assert [f.severity for f in report.findings] == [Severity.ERROR, Severity.WARNING]
    unknown, degenerate = (f.message for f in report.findings)
    assert f'annotation id {first["id"]}' in unknown and 'category_id 77' in unknown
    assert f'annotation id {second["id"]}' in degenerate and 'degenerate box' in degenerate
    assert all(f.path == str(ann_file(coco)) for f in report.findings)


def test_missing_image_and_duplicate_ids_are_reported(coco):
    (coco / 'train2017' / '000000000002.jpg').unlink()
    edit_json(coco, lambda c: c['images'][3].update(id=c['images'][2]['id']))
    report = check_coco(coco)
    messages = [str(f) for f in report.findings]
    assert any('000000000002.jpg: does not exist' in m for m in messages), messages
    assert any('image id 3 appears 2 times' in m for m in messages), messages


def test_coco_image_of_another_size_than_declared(coco):
    path = coco / 'train2017' / '000000000004.jpg'
    image = Image.open(path)
    image.resize((image.width + 10, image.height)).save(path)
    finding = only_finding(check_coco(coco))
    assert finding.path == str(path)
    assert f'declares {image.width}x{image.height}' in finding.message
