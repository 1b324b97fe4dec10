"""The detail scenes: a built-in scene set whose classes differ in what a
low-pass network loses (thin structures, texture frequency and orientation,
small objects beside large ones).

    python -m mmfreq.datasets.detail_scenes data/synthetic_detail [--train 400] [--val 100] \\
        [--preview docs/img/detail_scenes.png]

writes the ADE20K layout of :mod:`mmfreq.datasets.synthetic_scenes`, with
128 x 128 scenes and lossless PNG images (JPEG would smear the one-pixel
structures and the fine stripes)::

    data/synthetic_detail/images/training/ADE_train_00000001.png
    data/synthetic_detail/annotations/training/ADE_train_00000001.png
    data/synthetic_detail/images/validation/ADE_val_00000001.png
    data/synthetic_detail/annotations/validation/ADE_val_00000001.png

Label PNGs hold 1..10 for the classes below. Label 0 (ADE20K's unlabelled)
is not used: a seam would erase the wires. The classes:

- background, fine stripes, coarse stripes, vertical stripes: the cells of a
  Voronoi partition of the scene, painted with one pair of colours per scene
  mixed half and half, so that all four have the same mean colour. Background
  by smooth clouds, fine stripes by horizontal stripes of period 3.5-4.5 px,
  coarse stripes by horizontal stripes of period 10-12 px, vertical stripes by
  the fine stripes turned by 90 degrees (all within 10 degrees).
- disc, square, triangle: the shapes of the built-in scenes, with their
  textures and colours.
- dot: flat discs of radius 1.5-3.5 px, 1.5-3 px outside a shape's outline.
- ring outline: circle outlines 1-2 px wide.
- wire: dark polylines 1-3 px wide across the scene.

The same seed gives the same files.
"""
import argparse
import os.path as osp
from typing import Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw

from .synthetic_scenes import (
    SHAPES,
    Grid,
    _clouds,
    _disc,
    _rotated,
    draw_shape,
    write_split,
)

CLASSES = ('background', 'fine stripes', 'coarse stripes', 'vertical stripes', 'disc',
           'square', 'triangle', 'dot', 'ring outline', 'wire')
PALETTE = [[120, 120, 120], [230, 120, 60], [120, 60, 230], [60, 230, 120], [180, 120, 120],
           [6, 230, 230], [80, 50, 50], [255, 0, 0], [250, 220, 0], [20, 20, 200]]
SIZE = 128  # the side of every scene the CLI writes
# label (1-based as in the PNGs) -> the built-in scenes' shape of that name
DETAIL_SHAPES = {5: SHAPES[2], 6: SHAPES[3], 7: SHAPES[4]}
DOT, OUTLINE, WIRE = 8, 9, 10
DOT_COLOUR, OUTLINE_COLOUR, WIRE_COLOUR = (40, 210, 210), (235, 205, 40), (25, 25, 30)


def _stripes_at(grid: Grid, rng: np.random.Generator, period: Tuple[float, float],
                angle: float) -> np.ndarray:
    """Sinusoidal stripes in [0, 1] that run at ``angle`` (within 10 degrees)."""
    _, v = _rotated(grid, 0, 0, angle + np.deg2rad(rng.uniform(-10, 10)))
    return 0.5 + 0.5 * np.sin(2 * np.pi * v / rng.uniform(*period) + rng.uniform(0, 2 * np.pi))


def _regions(grid: Grid, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """The Voronoi cells, each background or a stripe class: (texture in [0, 1], label)."""
    ys, xs = grid
    seeds = rng.uniform(0, 1, (int(rng.integers(2, 5)), 2)) * ys.shape
    cell = np.argmin([(ys - y) ** 2 + (xs - x) ** 2 for y, x in seeds], axis=0)
    textures = {1: _clouds(grid, rng),
                2: _stripes_at(grid, rng, (3.5, 4.5), 0.0),
                3: _stripes_at(grid, rng, (10.0, 12.0), 0.0),
                4: _stripes_at(grid, rng, (3.5, 4.5), np.pi / 2)}
    label = rng.integers(1, 5, len(seeds))[cell].astype(np.uint8)
    texture = np.choose(label - 1, [textures[k] for k in sorted(textures)])
    return texture, label


def _flat(rng: np.random.Generator, colour: Tuple[int, int, int]) -> np.ndarray:
    """One jittered RGB colour."""
    return np.clip(np.asarray(colour) + rng.normal(0, 12, 3), 0, 255)


def _dots_beside(mask: np.ndarray, cx: float, cy: float, grid: Grid,
                 rng: np.random.Generator) -> np.ndarray:
    """1-3 small discs just outside the outline of ``mask`` (centred at cx, cy)."""
    eroded = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    edge_y, edge_x = np.nonzero(mask & ~eroded)
    dots = np.zeros_like(mask)
    if len(edge_y) == 0:
        return dots
    for i in rng.integers(len(edge_y), size=int(rng.integers(1, 4))):
        away = np.array([edge_x[i] - cx, edge_y[i] - cy])
        away /= max(np.hypot(*away), 1e-6)
        r = rng.uniform(1.5, 3.5)
        x, y = np.array([edge_x[i], edge_y[i]]) + away * (r + rng.uniform(1.5, 3.0))
        dots |= _disc(grid, x, y, r, 0.0)
    return dots & ~mask


def _wire(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A gently bent polyline across the scene, as (N, 2) integer x, y points."""
    angle = rng.uniform(0, np.pi)
    along = np.linspace(-1, 1, 64) * max(h, w)
    across = rng.uniform(2, 12) * np.sin(along / rng.uniform(10, 40) + rng.uniform(0, 2 * np.pi))
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    xs = cx + along * np.cos(angle) - across * np.sin(angle)
    ys = cy + along * np.sin(angle) + across * np.cos(angle)
    return np.round(np.stack([xs, ys], 1)).astype(np.int32)


def make_detail_scene(rng: np.random.Generator,
                      size: Tuple[int, int] = (SIZE, SIZE)) -> Tuple[np.ndarray, np.ndarray]:
    """One scene: image (H, W, 3) uint8 RGB and label map (H, W) uint8 (1..10).

    Drawn in this order, later layers on top: regions, shapes each with its
    dots, ring outlines, wires.
    """
    h, w = size
    grid = np.mgrid[0:h, 0:w].astype(np.float64)
    grid = (grid[0], grid[1])
    texture, label = _regions(grid, rng)
    mean = rng.uniform(100, 170) + rng.normal(0, 10, 3)
    contrast = rng.uniform(35, 60)
    image = (mean - contrast) + texture[..., None] * (2 * contrast)

    for _ in range(rng.integers(1, 4)):
        cls = int(rng.integers(5, 8))
        mask, cx, cy = draw_shape(image, label, grid, rng, DETAIL_SHAPES[cls], cls, (0.12, 0.22))
        dots = _dots_beside(mask, cx, cy, grid, rng)
        image[dots] = _flat(rng, DOT_COLOUR)
        label[dots] = DOT

    lines = np.zeros((h, w), np.uint8)
    for _ in range(rng.integers(1, 3)):
        centre = (int(rng.integers(w)), int(rng.integers(h)))
        cv2.circle(lines, centre, int(rng.integers(6, 30)), OUTLINE,
                   thickness=int(rng.integers(1, 3)), lineType=cv2.LINE_8)
    for _ in range(rng.integers(1, 4)):
        cv2.polylines(lines, [_wire(rng, h, w)], False, WIRE, thickness=int(rng.integers(1, 3)),
                      lineType=cv2.LINE_8)
    for cls, colour in ((OUTLINE, OUTLINE_COLOUR), (WIRE, WIRE_COLOUR)):
        image[lines == cls] = _flat(rng, colour)
        label[lines == cls] = cls

    noise = rng.normal(0, 4, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8), label


def write_detail(root: str, num_train: int = 400, num_val: int = 100, seed: int = 0) -> None:
    """Write the detail scenes under ``root`` (ADEChallengeData2016 layout)."""
    for split, count in (('training', num_train), ('validation', num_val)):
        write_split(root, split, count, seed, SIZE, SIZE, scene=make_detail_scene,
                    img_suffix='.png')


def write_preview(root: str, path: str, count: int = 6, zoom: int = 2) -> None:
    """Write a PNG grid of the first ``count`` training scenes under ``root``:
    the images above their labels drawn over them, ``zoom`` x nearest, and a
    legend of the classes."""
    images, overlays = [], []
    for i in range(1, count + 1):
        name = f'ADE_train_{i:08d}.png'
        image = np.asarray(Image.open(osp.join(root, 'images', 'training', name)))
        label = np.asarray(Image.open(osp.join(root, 'annotations', 'training', name)))
        colours = np.asarray(PALETTE, np.float64)[label.astype(int) - 1]
        images.append(image)
        overlays.append((0.35 * image + 0.65 * colours).astype(np.uint8))
    gap = np.full((SIZE, 4, 3), 255, np.uint8)
    rows = [np.concatenate([x for tile in row for x in (tile, gap)][:-1], 1)
            for row in (images, overlays)]
    grid = np.concatenate([rows[0], np.full((4, rows[0].shape[1], 3), 255, np.uint8), rows[1]])
    grid = Image.fromarray(grid.repeat(zoom, 0).repeat(zoom, 1))
    canvas = Image.new('RGB', (grid.width, grid.height + 40), 'white')
    canvas.paste(grid)
    draw = ImageDraw.Draw(canvas)
    step = grid.width // 5
    for k, (name, colour) in enumerate(zip(CLASSES, PALETTE)):
        x, y = (k % 5) * step + 4, grid.height + 4 + (k // 5) * 18
        draw.rectangle([x, y, x + 12, y + 12], fill=tuple(colour))
        draw.text((x + 18, y), name, fill='black')
    canvas.quantize(256).save(path)  # a palette keeps a docs image small


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='output folder (ADEChallengeData2016 level)')
    parser.add_argument('--train', type=int, default=400, help='training images')
    parser.add_argument('--val', type=int, default=100, help='validation images')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--preview', metavar='PNG',
                        help='also write a grid of the first six training scenes here')
    args = parser.parse_args()
    write_detail(args.root, args.train, args.val, args.seed)
    print(f'wrote {args.train} training and {args.val} validation detail scenes to {args.root}')
    if args.preview:
        write_preview(args.root, args.preview)
        print(f'wrote {args.preview}')


if __name__ == '__main__':
    main()
