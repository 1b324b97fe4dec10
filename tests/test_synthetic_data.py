import hashlib

import numpy as np
from PIL import Image

from mmfreq.datasets.synthetic_scenes import CLASSES, generate


def digest(root) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob('*')):
        if path.is_file():
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def test_layout_is_ade20k(tmp_path):
    generate(str(tmp_path), num_train=3, num_val=2, seed=0)
    assert sorted(p.name for p in (tmp_path / 'images' / 'training').iterdir()) == [
        'ADE_train_00000001.jpg', 'ADE_train_00000002.jpg', 'ADE_train_00000003.jpg']
    assert sorted(p.name for p in (tmp_path / 'annotations' / 'validation').iterdir()) == [
        'ADE_val_00000001.png', 'ADE_val_00000002.png']
    image = Image.open(tmp_path / 'images' / 'training' / 'ADE_train_00000001.jpg')
    label = Image.open(tmp_path / 'annotations' / 'training' / 'ADE_train_00000001.png')
    assert image.mode == 'RGB' and label.mode == 'L'
    assert image.size == label.size


def test_labels_use_ade20k_zero_for_unlabelled(tmp_path):
    generate(str(tmp_path), num_train=20, num_val=0, seed=1)
    seen = set()
    for path in (tmp_path / 'annotations' / 'training').iterdir():
        values = np.unique(np.asarray(Image.open(path)))
        assert values.max() <= len(CLASSES)
        seen.update(values.tolist())
    assert seen == set(range(len(CLASSES) + 1))  # 0 (seams) and every class


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generate(str(tmp_path / 'a'), num_train=2, num_val=1, seed=7)
    generate(str(tmp_path / 'b'), num_train=2, num_val=1, seed=7)
    generate(str(tmp_path / 'c'), num_train=2, num_val=1, seed=8)
    assert digest(tmp_path / 'a') == digest(tmp_path / 'b')
    assert digest(tmp_path / 'a') != digest(tmp_path / 'c')
