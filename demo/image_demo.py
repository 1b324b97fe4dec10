"""Draw a model's predictions on images: masks for segmentors, boxes (and
masks) for detectors, the top class for classifiers.

    python demo/image_demo.py IMG_OR_DIR CONFIG [CHECKPOINT] --out-dir DIR
        [--device cpu] [--opacity 0.5] [--score-thr 0.3]

Writes DIR/<image name>.png per image, drawn by the host toolbox's
visualizer with the class names and palette of the checkpoint (or of the
config's test dataset), and prints one line per image: the classes found with
their pixel shares, the boxes above ``--score-thr``, or the top class.

An image that cannot be read, predicted or drawn is named on stderr with
the reason and skipped; the others are processed, and the exit status is 1
at the end if any was skipped. ``--debug`` (or ``MMFREQ_DEBUG=1``) prints
the traceback behind each of those lines and behind an ``error:`` line.

Images are fed to the model as 3-channel colour: a grayscale image is
repeated over the three channels, an image with an alpha channel is
composited onto white, 16-bit images are scaled to 8 bits.
"""
import argparse
import os
import os.path as osp
import sys
import traceback
from typing import List, Tuple

import cv2
import mmcv
import numpy as np

from mmfreq.apis import inference_model, init_model
from mmfreq.apis.inference import host_of
from mmfreq.cli.errors import add_debug_argument, debugging, exit_on_error

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw predictions on images')
    parser.add_argument('images', help='an image file or a folder of images')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file (default: initial weights)')
    parser.add_argument('--out-dir', required=True, help='where the drawn PNGs go')
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the drawn masks, in (0, 1]')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='boxes scoring below this are not drawn or listed')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if not 0 < args.opacity <= 1:
        parser.error(f'--opacity {args.opacity} is not in (0, 1]')
    return args


def list_images(path: str) -> List[str]:
    """``path`` itself, or the images in the folder ``path`` (sorted)."""
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path!r} is neither an image file nor a folder')
    files = sorted(osp.join(path, name) for name in os.listdir(path)
                   if name.lower().endswith(IMAGE_SUFFIXES))
    if not files:
        raise FileNotFoundError(f'no images ({", ".join(IMAGE_SUFFIXES)}) in folder {path!r}')
    return files


def read_color_image(path: str) -> Tuple[np.ndarray, str]:
    """The image as BGR uint8 (H, W, 3) and what was converted ('' if nothing).

    Grayscale is repeated over three channels; an alpha channel is
    composited onto white (what a viewer shows for transparent pixels);
    16-bit samples are scaled to 8 bits.

    Raises:
        ValueError: OpenCV cannot read the file, or its samples are neither
            8- nor 16-bit integers.
    """
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError('not an image OpenCV can read')
    notes = []
    if image.dtype == np.uint16:
        image = (image / 257).round().astype(np.uint8)
        notes.append('16-bit scaled to 8-bit')
    elif image.dtype != np.uint8:
        raise ValueError(f'{image.dtype} samples; 8- or 16-bit images are supported')
    if image.ndim == 2 or image.shape[2] == 1:
        image = cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
        notes.append('grayscale repeated to 3 channels')
    elif image.shape[2] == 4:
        alpha = image[..., 3:].astype(np.float32) / 255
        image = (image[..., :3] * alpha + 255 * (1 - alpha)).round().astype(np.uint8)
        notes.append('alpha composited onto white')
    return image, ', '.join(notes)


def draw(model, image_rgb: np.ndarray, result, out_file: str, opacity: float,
         score_thr: float) -> None:
    """Draw ``result`` on the image with the host's visualizer and write ``out_file``."""
    host = host_of(model.cfg)
    if host == 'mmseg':
        from mmseg.apis import show_result_pyplot
        show_result_pyplot(model, image_rgb, result, opacity=opacity, draw_gt=False,
                           show=False, out_file=out_file)
    elif host == 'mmdet':
        from mmdet.visualization import DetLocalVisualizer
        visualizer = DetLocalVisualizer(alpha=opacity)
        visualizer.dataset_meta = model.dataset_meta
        visualizer.add_datasample('result', image_rgb, result, draw_gt=False, show=False,
                                  pred_score_thr=score_thr, out_file=out_file)
    else:
        from mmpretrain.visualization import UniversalVisualizer
        UniversalVisualizer().visualize_cls(image_rgb, result,
                                            classes=model.dataset_meta.get('classes'),
                                            show=False, out_file=out_file)


def summarize(model, result, score_thr: float) -> str:
    """Classes with their pixel shares, boxes above the threshold, or the top class."""
    classes = model.dataset_meta['classes']
    host = host_of(model.cfg)
    if host == 'mmseg':
        labels = result.pred_sem_seg.data.flatten().cpu()
        counts = np.bincount(labels.numpy(), minlength=len(classes))
        shares = [(counts[i] / labels.numel(), name) for i, name in enumerate(classes)
                  if counts[i]]
        return ', '.join(f'{name} {share:.1%}' for share, name in sorted(shares, reverse=True))
    if host == 'mmdet':
        instances = result.pred_instances
        keep = instances.scores >= score_thr
        boxes = [f'{classes[int(label)]} {float(score):.2f} '
                 f'[{", ".join(str(round(float(v))) for v in box)}]'
                 for label, score, box in zip(instances.labels[keep], instances.scores[keep],
                                              instances.bboxes[keep])]
        return f'{len(boxes)} boxes >= {score_thr}' + (': ' + '; '.join(boxes) if boxes else '')
    label = int(result.pred_label[0])
    return f'top class {classes[label]} {float(result.pred_score[label]):.2f}'


def main(argv=None) -> None:
    args = parse_args(argv)
    debug = debugging(args)
    # a bad path, config or checkpoint (an unsafe one is a UserError); an unknown arch
    with exit_on_error(FileNotFoundError, KeyError, TypeError, ValueError, debug=debug):
        images = list_images(args.images)
        model = init_model(args.config, args.checkpoint, device=args.device)
    os.makedirs(args.out_dir, exist_ok=True)
    skipped = []
    for path in images:
        stage = 'reading'
        try:
            image, converted = read_color_image(path)
            stage = 'predicting'
            result = inference_model(model, image)
            stage = 'drawing'
            out_file = osp.join(args.out_dir, osp.splitext(osp.basename(path))[0] + '.png')
            draw(model, mmcv.bgr2rgb(image), result, out_file, args.opacity, args.score_thr)
            summary = summarize(model, result, args.score_thr)
        except Exception as err:  # any one image's failure must not stop the others
            if debug:
                traceback.print_exc()
            print(f'skipped {path}: {stage} failed: {type(err).__name__}: {err}',
                  file=sys.stderr)
            skipped.append(path)
            continue
        height, width = image.shape[:2]
        note = f' ({converted})' if converted else ''
        print(f'{path}: {width}x{height}{note}: {summary} -> {out_file}')
    if skipped:
        more = ', ...' if len(skipped) > 3 else ''
        sys.exit(f'error: {len(skipped)} of {len(images)} images skipped (named above): '
                 f'{", ".join(skipped[:3])}{more}')


if __name__ == '__main__':
    main()
