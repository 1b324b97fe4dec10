import hashlib

import numpy as np
from PIL import Image

from mmfreq.datasets.synthetic_scenes import CLASSES, write_ade20k


def digest(root) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob('*')):
        if path.is_file():
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def test_layout_is_ade20k(tmp_path):
    write_ade20k(str(tmp_path), num_train=3, num_val=2, seed=0)
    assert sorted(p.name for p in (tmp_path / 'images' / 'training').iterdir()) == [
        'ADE_train_00000001.jpg', 'ADE_train_00000002.jpg', 'ADE_train_00000003.jpg']
    assert sorted(p.name for p in (tmp_path / 'annotations' / 'validation').iterdir()) == [
        'ADE_val_00000001.png', 'ADE_val_00000002.png']
    image = Image.open(tmp_path / 'images' / 'training' / 'ADE_train_00000001.jpg')
    label = Image.open(tmp_path / 'annotations' / 'training' / 'ADE_train_00000001.png')
    assert image.mode == 'RGB' and label.mode == 'L'
    assert image.size == label.size


def test_labels_use_ade20k_zero_for_unlabelled(tmp_path):
    write_ade20k(str(tmp_path), num_train=20, num_val=0, seed=1)
    seen = set()
    for path in (tmp_path / 'annotations' / 'training').iterdir():
        values = np.unique(np.asarray(Image.open(path)))
        assert values.max() <= len(CLASSES)
        seen.update(values.tolist())
    assert seen == set(range(len(CLASSES) + 1))  # 0 (seams) and every class


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    write_ade20k(str(tmp_path / 'a'), num_train=2, num_val=1, seed=7)
    write_ade20k(str(tmp_path / 'b'), num_train=2, num_val=1, seed=7)
    write_ade20k(str(tmp_path / 'c'), num_train=2, num_val=1, seed=8)
    assert digest(tmp_path / 'a') == digest(tmp_path / 'b')
    assert digest(tmp_path / 'a') != digest(tmp_path / 'c')


def test_coco_layout_and_annotations(tmp_path):
    import json

    from pycocotools import mask as mask_utils

    from mmfreq.datasets.synthetic_scenes import COCO_CLASSES, write_coco

    write_coco(str(tmp_path), num_train=6, num_val=2, seed=0)
    for split, count in (('train2017', 6), ('val2017', 2)):
        with open(tmp_path / 'annotations' / f'instances_{split}.json') as f:
            coco = json.load(f)
        assert [c['name'] for c in coco['categories']] == list(COCO_CLASSES)
        assert len(coco['images']) == count
        for image in coco['images']:
            assert (tmp_path / split / image['file_name']).is_file()
        assert coco['annotations'], split
        sizes = {im['id']: (im['height'], im['width']) for im in coco['images']}
        for ann in coco['annotations']:
            h, w = sizes[ann['image_id']]
            x, y, bw, bh = ann['bbox']
            assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h
            # the polygons rasterise back to roughly the annotated area
            rle = mask_utils.merge(mask_utils.frPyObjects(ann['segmentation'], h, w))
            assert abs(mask_utils.area(rle) - ann['area']) <= 0.5 * ann['area'] + 10
