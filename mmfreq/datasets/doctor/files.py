"""Reading a dataset's files as its loaders do, each failure a finding."""
import io
import json
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.utils import ProgressBar
from PIL import Image

from .findings import Finding

# Extensions of files that are images (checked case-insensitively) and that a
# dataset is therefore expected to read rather than skip.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.gif')


def read_bytes(path: str) -> Tuple[Optional[bytes], Optional[Finding]]:
    """The bytes of the file at ``path``, or the finding that says why there are none."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        return None, Finding(path, f'cannot be read: {err.strerror}')
    if not data:
        return None, Finding(path, 'empty file (0 bytes)')
    return data, None


def decode_image(path: str) -> Tuple[Optional[np.ndarray], Optional[Finding]]:
    """The image file as OpenCV decodes it for ``LoadImageFromFile``, or the
    finding that says why it cannot be."""
    data, finding = read_bytes(path)
    if finding is not None:
        return None, finding
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        return None, Finding(path, f'cannot be decoded as an image ({len(data)} bytes)')
    return image, None


def decode_label(path: str) -> Tuple[Optional[np.ndarray], Optional[Finding]]:
    """The label file as mmseg's ``LoadAnnotations`` reads it (Pillow, unchanged:
    palette PNGs give their indices), or the finding that says why it cannot be."""
    data, finding = read_bytes(path)
    if finding is not None:
        return None, finding
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image), None
    except (OSError, SyntaxError, ValueError) as err:  # what Pillow raises on bad files
        return None, Finding(path, f'cannot be decoded as a label image: {err}')


def load_json(path: str) -> Tuple[Any, Optional[Finding]]:
    """The parsed JSON file, or the finding naming the file and the position of
    the syntax error."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f), None
    except json.JSONDecodeError as err:
        return None, Finding(path, f'not valid JSON: {err.msg} at line {err.lineno} '
                                   f'column {err.colno} (char {err.pos})')
    except UnicodeDecodeError as err:
        return None, Finding(path, f'not UTF-8 text: {err}')
    except OSError as err:
        return None, Finding(path, f'cannot be read: {err.strerror}')


def list_files(folder: str) -> List[str]:
    """Paths relative to ``folder`` of every file under it (hidden files left
    out), sorted, as mmengine's ``list_dir_or_file(recursive=True)`` walks.

    Args:
        folder (str): The folder to walk.
    """
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        for name in files:
            if not name.startswith('.'):
                found.append(osp.relpath(osp.join(root, name), folder))
    return sorted(found)


def map_checked(fn: Callable, tasks: Sequence[tuple], workers: int, progress: bool
                ) -> List[Any]:
    """``fn(*task)`` for each task on a thread pool (OpenCV and Pillow decode
    without holding the GIL), in order, with a progress bar if asked.

    Args:
        fn (Callable): The check of one sample.
        tasks (Sequence[tuple]): Its arguments, one tuple per sample.
        workers (int): Threads.
        progress (bool): Show a progress bar.
    """
    bar = ProgressBar(len(tasks)) if progress and tasks else None
    results = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for result in pool.map(lambda task: fn(*task), tasks):
            results.append(result)
            if bar is not None:
                bar.update()
    if bar is not None:
        print()
    return results
