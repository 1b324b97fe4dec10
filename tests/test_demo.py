"""demo/image_demo.py: predictions drawn on a real photograph, grayscale and
RGBA inputs converted, boxes listed above the threshold, an image that fails
named and skipped."""
import re
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PIL import Image

from mmfreq.datasets.synthetic_scenes import COCO_CLASSES, PALETTE
from mmfreq.testing.fixtures import photo_path, save_runner_like_checkpoint
from mmfreq.testing.tools import SYNTHETIC_CONFIG, load_script, run_tool

DEMO = 'demo/image_demo.py'


def load_demo():
    return load_script(DEMO)


def test_grayscale_is_repeated_over_three_channels(tmp_path):
    gray = np.arange(48 * 64, dtype=np.uint8).reshape(48, 64)
    Image.fromarray(gray, 'L').save(tmp_path / 'g.png')
    image, note = load_demo().read_color_image(str(tmp_path / 'g.png'))
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    assert all(np.array_equal(image[..., c], gray) for c in range(3))
    assert note == 'grayscale repeated to 3 channels'


def test_alpha_is_composited_onto_white(tmp_path):
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)  # R, G, B
    rgba[:, :10, 3] = 255  # left half opaque, right half transparent
    rgba[:, 15:, 3] = 128
    Image.fromarray(rgba, 'RGBA').save(tmp_path / 'a.png')
    image, note = load_demo().read_color_image(str(tmp_path / 'a.png'))
    assert image.shape == (10, 20, 3)
    assert (image[:, :10] == (50, 100, 200)).all()  # BGR, as mmcv reads
    assert (image[:, 10:15] == 255).all()
    half = np.round(np.array([50, 100, 200]) * 128 / 255 + 255 * 127 / 255)
    assert (image[:, 15:] == half).all()
    assert note == 'alpha composited onto white'


def test_sixteen_bit_images_are_scaled(tmp_path):
    deep = np.full((8, 8), 65535, np.uint16)
    deep[0, 0] = 257
    cv2.imwrite(str(tmp_path / 'd.png'), deep)
    image, note = load_demo().read_color_image(str(tmp_path / 'd.png'))
    assert image[0, 0, 0] == 1 and image[1, 1, 2] == 255
    assert note == '16-bit scaled to 8-bit, grayscale repeated to 3 channels'


@pytest.mark.slow  # a subprocess run of the tool
def test_unreadable_files_and_empty_folders_are_named(tmp_path):
    (tmp_path / 'bad.jpg').write_bytes(b'not an image')
    result = run_tool([DEMO, tmp_path / 'bad.jpg', SYNTHETIC_CONFIG, '--out-dir', tmp_path])
    assert result.returncode == 1
    assert f'skipped {tmp_path / "bad.jpg"}: reading failed: ValueError: not an image ' \
        'OpenCV can read' in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith('error: 1 of 1 images skipped')
    (tmp_path / 'empty').mkdir()
    result = run_tool([DEMO, tmp_path / 'empty', SYNTHETIC_CONFIG, '--out-dir', tmp_path])
    assert result.returncode == 1
    assert 'no images' in result.stderr and 'empty' in result.stderr


def test_boxes_are_drawn_and_listed_above_the_threshold(tmp_path):
    import torch
    from mmdet.structures import DetDataSample
    from mmengine.config import Config
    from mmengine.structures import InstanceData

    demo = load_demo()
    palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    model = SimpleNamespace(cfg=Config(dict(default_scope='mmdet')),
                            dataset_meta=dict(classes=COCO_CLASSES, palette=palette))
    result = DetDataSample()
    result.pred_instances = InstanceData(
        bboxes=torch.tensor([[10., 20., 60., 50.], [70., 5., 90., 30.]]),
        scores=torch.tensor([0.9, 0.1]), labels=torch.tensor([1, 2]))
    image = np.full((64, 100, 3), 128, np.uint8)
    out = tmp_path / 'boxes.png'
    demo.draw(model, image, result, str(out), opacity=0.5, score_thr=0.3)
    assert demo.summarize(model, result, 0.3) == '1 boxes >= 0.3: square 0.90 [10, 20, 60, 50]'
    drawn = np.asarray(Image.open(out).convert('RGB')).astype(int)
    assert drawn.shape == (64, 100, 3)
    assert (np.abs(drawn[35, 8:13] - 128).sum(-1) > 60).any()  # the kept box's left edge
    assert (drawn[20:28, 75:85] == 128).all()  # the low-scoring box is not drawn


@pytest.fixture(scope='module')
def trained_checkpoint(tmp_path_factory):
    """A checkpoint of the demo config's model as a Runner saves it (random
    weights: what is drawn, not how well, is tested)."""
    path = tmp_path_factory.mktemp('demo') / 'iter_4.pth'
    save_runner_like_checkpoint(SYNTHETIC_CONFIG, path)
    return path


def palette_share(path) -> float:
    """Share of the pixels whose colour is exactly one of the palette's."""
    pixels = np.asarray(Image.open(path).convert('RGB')).reshape(-1, 1, 3)
    return float((pixels == np.array(PALETTE)[None]).all(-1).any(-1).mean())


@pytest.mark.slow
def test_demo_draws_the_mask_on_the_photo(trained_checkpoint, tmp_path):
    opaque, blended = tmp_path / 'opaque', tmp_path / 'blended'
    for out_dir, opacity in ((opaque, '1'), (blended, '0.5')):
        result = run_tool([DEMO, photo_path(), SYNTHETIC_CONFIG, trained_checkpoint,
                           '--out-dir', out_dir, '--opacity', opacity])
        assert result.returncode == 0, result.stderr[-3000:]
    # one line per image: size, classes with pixel shares, the file written
    line = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r'\S+grace_hopper\.jpg: 512x600: (\w+ \d+\.\d%)(, \w+ \d+\.\d%)* -> '
                        + re.escape(str(blended / 'grace_hopper.png')), line), line
    shares = [float(s) for s in re.findall(r'(\d+\.\d)%', line)]
    assert abs(sum(shares) - 100) < 0.5
    photo = np.asarray(Image.open(photo_path()).convert('RGB')).astype(int)
    drawn = np.asarray(Image.open(blended / 'grace_hopper.png').convert('RGB')).astype(int)
    assert drawn.shape == photo.shape
    assert np.abs(drawn - photo).mean() > 10  # the overlay is there
    # fully opaque, the mask covers the photo in the palette's colours (class
    # names are written on top), half opaque it does not
    assert palette_share(opaque / 'grace_hopper.png') > 0.8
    assert palette_share(blended / 'grace_hopper.png') < 0.2


@pytest.mark.slow
def test_demo_runs_a_folder_with_grayscale_and_rgba_images(trained_checkpoint, tmp_path):
    images = tmp_path / 'images'
    images.mkdir()
    photo = Image.open(photo_path()).resize((128, 150))
    photo.convert('L').save(images / 'gray.png')
    photo.convert('RGBA').save(images / 'rgba.png')
    (images / 'notes.txt').write_text('not an image: skipped')
    out_dir = tmp_path / 'out'
    result = run_tool([DEMO, images, SYNTHETIC_CONFIG, trained_checkpoint, '--out-dir',
                       out_dir])
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()[-2:]
    assert 'gray.png: 128x150 (grayscale repeated to 3 channels): ' in lines[0]
    assert 'rgba.png: 128x150 (alpha composited onto white): ' in lines[1]
    assert sorted(p.name for p in out_dir.iterdir()) == ['gray.png', 'rgba.png']
    for name in ('gray.png', 'rgba.png'):
        assert Image.open(out_dir / name).mode == 'RGB'
        assert Image.open(out_dir / name).size == (128, 150)


@pytest.mark.slow  # a subprocess run of the tool
def test_a_folder_with_images_that_fail_draws_the_others(trained_checkpoint, tmp_path):
    images = tmp_path / 'images'
    images.mkdir()
    photo = Image.open(photo_path())
    photo.resize((97, 61)).save(images / 'a_photo.png')
    photo.resize((1, 1)).save(images / 'b_tiny.png')  # too small for mmseg's visualizer
    (images / 'c_broken.jpg').write_bytes(b'\xff\xd8 cut short')
    photo.convert('L').resize((40, 33)).save(images / 'd_gray.png')
    out_dir = tmp_path / 'out'
    result = run_tool([DEMO, images, SYNTHETIC_CONFIG, trained_checkpoint, '--out-dir',
                       out_dir])
    assert result.returncode == 1, result.stderr[-3000:]
    assert 'Traceback' not in result.stderr
    done = result.stdout.strip().splitlines()[-2:]
    assert done[0].startswith(f'{images / "a_photo.png"}: 97x61: ')
    assert done[1].startswith(f'{images / "d_gray.png"}: 40x33 (grayscale')
    assert sorted(p.name for p in out_dir.iterdir()) == ['a_photo.png', 'd_gray.png']
    skipped = [line for line in result.stderr.splitlines() if line.startswith('skipped ')]
    assert len(skipped) == 2
    assert skipped[0].startswith(f'skipped {images / "b_tiny.png"}: drawing failed: ')
    assert skipped[1].startswith(f'skipped {images / "c_broken.jpg"}: reading failed: ')
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('error: 2 of 4 images skipped') and 'b_tiny.png' in last
