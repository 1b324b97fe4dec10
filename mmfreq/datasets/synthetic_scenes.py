"""Small synthetic scene datasets in the exact ADE20K and COCO on-disk layouts.

    python -m mmfreq.datasets.synthetic_scenes data/synthetic_ade [--train 240] [--val 60]

writes::

    data/synthetic_ade/images/training/ADE_train_00000001.jpg
    data/synthetic_ade/annotations/training/ADE_train_00000001.png
    data/synthetic_ade/images/validation/ADE_val_00000001.jpg
    data/synthetic_ade/annotations/validation/ADE_val_00000001.png

and ``... data/synthetic_coco --format coco`` writes::

    data/synthetic_coco/annotations/instances_{train,val}2017.json  (polygon masks)
    data/synthetic_coco/{train,val}2017/000000000001.jpg

Label PNGs are single-channel uint8 as in ADE20K: 0 marks unlabelled pixels
(here a one-pixel seam around every shape) and 1..K the classes, so
``reduce_zero_label=True`` applies exactly as for the real dataset. Each shape
class has its own outline, texture (stripes, checkers, dots, ...) and hue
(jittered in shade) over a cloudy grey background; shapes overlap and occlude
each other. The COCO variant annotates every visible shape instance (disc,
square, triangle, bar) with its polygons and box. The same seed gives the same
files.
"""
import argparse
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

CLASSES = ('background', 'disc', 'square', 'triangle', 'ring', 'bar')
PALETTE = [[120, 120, 120], [180, 120, 120], [6, 230, 230], [80, 50, 50], [4, 200, 3],
           [120, 120, 80]]
# Instance classes of the COCO variant: the shapes without holes, which COCO
# polygons describe exactly (the ring is left out).
COCO_SHAPE_CLASSES = (2, 3, 4, 6)
COCO_CLASSES = tuple(CLASSES[cls - 1] for cls in COCO_SHAPE_CLASSES)

Grid = Tuple[np.ndarray, np.ndarray]


def _rotated(grid: Grid, cx: float, cy: float, angle: float) -> Grid:
    ys, xs = grid
    c, s = np.cos(angle), np.sin(angle)
    return (xs - cx) * c + (ys - cy) * s, -(xs - cx) * s + (ys - cy) * c


def _disc(grid: Grid, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    u, v = _rotated(grid, cx, cy, angle)
    return u ** 2 + v ** 2 <= r ** 2


def _square(grid: Grid, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    u, v = _rotated(grid, cx, cy, angle)
    half = r * 0.8
    return (np.abs(u) <= half) & (np.abs(v) <= half)


def _triangle(grid: Grid, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    u, v = _rotated(grid, cx, cy, angle)
    inside = np.ones_like(u, dtype=bool)
    for k in range(3):  # three half-planes at 120 degrees
        a = 2 * np.pi * k / 3
        inside &= u * np.cos(a) + v * np.sin(a) <= r / 2
    return inside


def _ring(grid: Grid, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    u, v = _rotated(grid, cx, cy, angle)
    d2 = u ** 2 + v ** 2
    return (d2 <= r ** 2) & (d2 >= (0.55 * r) ** 2)


def _bar(grid: Grid, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    u, v = _rotated(grid, cx, cy, angle)
    return (np.abs(u) <= 1.3 * r) & (np.abs(v) <= 0.3 * r)


def _stripes(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    u, _ = _rotated(grid, 0, 0, rng.uniform(0, np.pi))
    return 0.5 + 0.5 * np.sin(u * rng.uniform(0.6, 1.0))


def _checkers(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    period = rng.uniform(4, 7)
    u, v = _rotated(grid, 0, 0, rng.uniform(0, np.pi / 2))
    return ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float64)


def _dots(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    f = rng.uniform(0.7, 1.0)
    ys, xs = grid
    return (np.sin(xs * f) * np.sin(ys * f) > 0.4).astype(np.float64)


def _radial(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    ys, xs = grid
    cx, cy = xs.mean(), ys.mean()
    return 0.5 + 0.5 * np.sin(np.hypot(xs - cx, ys - cy) * rng.uniform(0.5, 0.8))


def _grain(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 1, grid[0].shape)


def _clouds(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    """Smooth low-frequency noise: a coarse random grid, bilinearly upsampled."""
    h, w = grid[0].shape
    coarse = rng.uniform(0, 1, (6, 6))
    ys = np.linspace(0, 5, h)[:, None]
    xs = np.linspace(0, 5, w)[None, :]
    y0, x0 = np.minimum(ys.astype(int), 4), np.minimum(xs.astype(int), 4)
    fy, fx = ys - y0, xs - x0
    top = coarse[y0, x0] * (1 - fx) + coarse[y0, x0 + 1] * fx
    bottom = coarse[y0 + 1, x0] * (1 - fx) + coarse[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


# class index (1-based as in the label PNGs) -> (mask, texture, base RGB colour)
SHAPES: Dict[int, Tuple[Callable, Callable, Tuple[int, int, int]]] = {
    2: (_disc, _stripes, (200, 60, 50)),
    3: (_square, _checkers, (60, 170, 70)),
    4: (_triangle, _dots, (60, 80, 200)),
    5: (_ring, _radial, (210, 190, 40)),
    6: (_bar, _grain, (170, 60, 190)),
}


def _paint(texture: np.ndarray, rng: np.random.Generator,
           base: Tuple[int, int, int]) -> np.ndarray:
    """Mix a jittered ``base`` colour with a darker shade of it by a texture
    in [0, 1]: (H, W) -> (H, W, 3)."""
    light = np.clip(np.asarray(base) + rng.normal(0, 20, 3), 0, 255)
    dark = light * rng.uniform(0.3, 0.6)
    return dark + texture[..., None] * (light - dark)


def draw_shape(image: np.ndarray, label: np.ndarray, grid: Grid, rng: np.random.Generator,
               shape: tuple, cls: int, radius: Tuple[float, float]
               ) -> Tuple[np.ndarray, float, float]:
    """Paint ``shape`` (mask, texture, colour) of class ``cls`` at a random
    place, its radius a random share ``radius`` of the short side; returns
    its mask and centre (x, y)."""
    h, w = grid[0].shape
    mask_fn, texture_fn, colour = shape
    r = rng.uniform(*radius) * min(h, w)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    mask = mask_fn(grid, cx, cy, r, rng.uniform(0, 2 * np.pi))
    image[mask] = _paint(texture_fn(grid, rng), rng, colour)[mask]
    label[mask] = cls
    return mask, cx, cy


def make_scene(rng: np.random.Generator, size: Tuple[int, int],
               shape_classes: Sequence[int] = tuple(SHAPES)
               ) -> Tuple[np.ndarray, np.ndarray, List[Tuple[int, np.ndarray]]]:
    """One scene: image (H, W, 3) uint8 RGB, label map (H, W) uint8, and the
    instances as (class index, visible boolean mask) in drawing order.

    Later shapes occlude earlier ones; ``shape_classes`` restricts which
    classes are drawn.
    """
    h, w = size
    grid = np.mgrid[0:h, 0:w].astype(np.float64)
    grid = (grid[0], grid[1])
    grey = rng.uniform(60, 200)
    image = _paint(_clouds(grid, rng), rng, (grey, grey, grey))
    label = np.ones((h, w), np.uint8)  # class 1: background
    instances: List[Tuple[int, np.ndarray]] = []
    for _ in range(rng.integers(2, 6)):
        cls = int(shape_classes[rng.integers(len(shape_classes))])
        mask, _, _ = draw_shape(image, label, grid, rng, SHAPES[cls], cls, (0.1, 0.25))
        # the seam: pixels inside the shape that touch its outside stay unlabelled
        edge = mask & ~(np.roll(mask, 1, 0) & np.roll(mask, -1, 0) &
                        np.roll(mask, 1, 1) & np.roll(mask, -1, 1))
        label[edge] = 0
        for _, earlier in instances:
            earlier &= ~mask
        instances.append((cls, mask))
    noise = rng.normal(0, 6, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8), label, instances


def write_split(root: str, split: str, count: int, seed: int,
                min_size: int = 96, max_size: int = 160,
                scene: Callable[..., tuple] = make_scene, img_suffix: str = '.jpg') -> None:
    """Write ``count`` scenes of one split (``'training'`` or ``'validation'``).

    ``scene(rng, (h, w))`` returns the image and the label map first, as
    :func:`make_scene` does; images are saved as ``img_suffix`` (JPEG at
    quality 95, or any lossless format Pillow knows by its suffix).
    """
    prefix = 'ADE_train' if split == 'training' else 'ADE_val'
    image_dir = osp.join(root, 'images', split)
    label_dir = osp.join(root, 'annotations', split)
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(label_dir, exist_ok=True)
    rng = np.random.default_rng([seed, 0 if split == 'training' else 1])
    options = dict(quality=95) if img_suffix == '.jpg' else {}
    for i in range(1, count + 1):
        size = tuple(int(s) for s in rng.integers(min_size, max_size + 1, 2))
        image, label = scene(rng, size)[:2]
        name = f'{prefix}_{i:08d}'
        Image.fromarray(image).save(osp.join(image_dir, name + img_suffix), **options)
        Image.fromarray(label).save(osp.join(label_dir, name + '.png'))


def write_ade20k(root: str, num_train: int = 240, num_val: int = 60, seed: int = 0) -> None:
    """Write the scene-parsing dataset under ``root`` (ADEChallengeData2016 layout)."""
    write_split(root, 'training', num_train, seed)
    write_split(root, 'validation', num_val, seed)


def mask_to_polygons(mask: np.ndarray) -> List[List[float]]:
    """COCO polygons ``[x0, y0, x1, y1, ...]`` of each outer contour of ``mask``."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    return [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]


def write_coco_split(root: str, split: str, count: int, seed: int, min_size: int = 96,
                     max_size: int = 160, min_area: int = 16) -> None:
    """Write ``count`` scenes of ``split`` (``'train2017'``/``'val2017'``) with
    ``annotations/instances_{split}.json``. Instances whose visible part is
    under ``min_area`` pixels are left out."""
    os.makedirs(osp.join(root, split), exist_ok=True)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    rng = np.random.default_rng([seed, 2 if split == 'train2017' else 3])
    category_of = {cls: i + 1 for i, cls in enumerate(COCO_SHAPE_CLASSES)}
    images, annotations = [], []
    for image_id in range(1, count + 1):
        size = tuple(int(s) for s in rng.integers(min_size, max_size + 1, 2))
        image, _, instances = make_scene(rng, size, COCO_SHAPE_CLASSES)
        file_name = f'{image_id:012d}.jpg'
        Image.fromarray(image).save(osp.join(root, split, file_name), quality=95)
        images.append(dict(id=image_id, file_name=file_name, height=size[0], width=size[1]))
        for cls, mask in instances:
            area = int(mask.sum())
            polygons = mask_to_polygons(mask) if area >= min_area else []
            if not polygons:
                continue
            ys, xs = np.nonzero(mask)
            x0, y0 = int(xs.min()), int(ys.min())
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id, category_id=category_of[cls],
                segmentation=polygons, area=float(area), iscrowd=0,
                bbox=[x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1]))
    categories = [dict(id=i + 1, name=CLASSES[cls - 1], supercategory='shape')
                  for i, cls in enumerate(COCO_SHAPE_CLASSES)]
    with open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)


def write_coco(root: str, num_train: int = 240, num_val: int = 60, seed: int = 0) -> None:
    """Write the instance dataset under ``root`` (COCO 2017 layout)."""
    write_coco_split(root, 'train2017', num_train, seed)
    write_coco_split(root, 'val2017', num_val, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='output folder (ADEChallengeData2016 or coco level)')
    parser.add_argument('--format', choices=['ade20k', 'coco'], default='ade20k')
    parser.add_argument('--train', type=int, default=240, help='training images')
    parser.add_argument('--val', type=int, default=60, help='validation images')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    writer = write_ade20k if args.format == 'ade20k' else write_coco
    writer(args.root, args.train, args.val, args.seed)
    print(f'wrote {args.train} training and {args.val} validation {args.format} scenes '
          f'to {args.root}')


if __name__ == '__main__':
    main()
