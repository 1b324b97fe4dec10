"""The user-facing tools, run as a user runs them (subprocesses)."""
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmfreq.testing.tools import (
    ROOT,
    SYNTHETIC_CONFIG,
    run_tool,
    small_run_options,
    training_scalars,
)


def model_built_line(output: str) -> str:
    """The line in which train.py names the model it built."""
    return next((line for line in output.splitlines() if 'model built' in line), output[-3000:])


@pytest.mark.slow
@pytest.mark.xdist_group('trained_demo')
def test_train_then_test_prints_miou(trained_demo, synthetic_root, tmp_path):
    built = model_built_line(trained_demo.output)
    assert 'EncoderDecoder' in built and 'VAN' in built and '6 classes' in built, built
    assert trained_demo.checkpoint.is_file()

    out = tmp_path / 'results.pkl'
    show_dir = tmp_path / 'vis'
    test = run_tool(['tools/test.py', SYNTHETIC_CONFIG, trained_demo.checkpoint, '--work-dir',
                     tmp_path / 'work', '--out', out, '--show-dir', show_dir,
                     '--cfg-options', *small_run_options(synthetic_root, 4, 4)])
    assert test.returncode == 0, test.stderr[-3000:]
    assert re.search(r'mIoU: \d+\.\d+', test.stdout + test.stderr)
    with open(out, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 4  # one per validation scene
    assert len(list(show_dir.rglob('*.png'))) == 4


@pytest.mark.slow
@pytest.mark.parametrize('config,model,folder,hint', [
    ('upernet_van_b.py', 'EncoderDecoder, backbone VAN, 150 classes',
     'data/ade/ADEChallengeData2016', 'ADEChallengeData2016.zip'),
    ('mask_rcnn_van_b_1x.py', 'MaskRCNN, backbone VAN, 80 classes', 'data/coco/',
     'annotations_trainval2017.zip'),
])
def test_missing_dataset_fails_after_building_the_real_model(tmp_path, config, model, folder,
                                                             hint):
    """The full-size model builds; only the data is missing, and the error says where."""
    result = run_tool(['tools/train.py', ROOT / 'configs' / config], cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert f'model built: {model}' in output
    assert f"folder '{folder}' does not exist" in output
    assert hint in output
    assert 'Traceback' not in output


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_missing_config_is_named(tmp_path):
    result = run_tool(['tools/train.py', tmp_path / 'nope.py'])
    assert result.returncode == 1
    assert 'nope.py' in result.stderr and 'does not exist' in result.stderr


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(synthetic_root, tmp_path):
    work_dir = tmp_path / 'work'
    options = small_run_options(synthetic_root, 1000, 2)
    command = [sys.executable, 'tools/train.py', str(SYNTHETIC_CONFIG), '--work-dir',
               str(work_dir), '--cfg-options', *options]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not (work_dir / 'iter_4.pth').exists():
            assert proc.poll() is None, 'training stopped before its first checkpoints'
            assert time.time() < deadline, 'no checkpoint within 300 s'
            time.sleep(0.5)
        time.sleep(1)  # let the checkpoint file be complete before the kill
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    last = (work_dir / 'last_checkpoint').read_text().strip()
    done = int(re.search(r'iter_(\d+)\.pth', last).group(1))
    assert done >= 4

    target = done + 2
    resumed = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--work-dir', work_dir, '--resume',
                        '--cfg-options', *small_run_options(synthetic_root, target, 2)])
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output[-3000:]
    assert f'resumed epoch: 0, iter: {done}' in output
    # mmengine pads the iteration to the width of max_iters: '[ 9/10]'
    assert re.search(rf'Iter\(train\) \[\s*{done + 1}/{target}\]', output)
    assert not re.search(rf'Iter\(train\) \[\s*1/{target}\]', output)
    assert (work_dir / f'iter_{target}.pth').is_file()


def test_corrupt_image_is_named(synthetic_root, tmp_path):
    """The config's own pipeline reports the file it could not decode."""
    import shutil

    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    root = tmp_path / 'data'
    shutil.copytree(synthetic_root, root)
    bad = root / 'images' / 'training' / 'ADE_train_00000003.jpg'
    bad.write_bytes(b'\xff\xd8 this is not a jpeg')
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    cfg.train_dataloader.dataset.data_root = str(root)
    init_default_scope('mmseg')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    index = [i for i in range(len(dataset))
             if dataset.get_data_info(i)['img_path'] == str(bad)][0]
    with pytest.raises(Exception, match='ADE_train_00000003.jpg'):
        dataset[index]


@pytest.mark.slow  # a subprocess run of the tool
def test_amp_on_cpu_is_refused_clearly(synthetic_root):
    pytest.importorskip('torch')
    import torch

    if torch.cuda.is_available():
        pytest.skip('AMP is supported here')
    result = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--amp'])
    assert result.returncode == 1
    assert '--amp needs a CUDA device' in result.stderr


def majority_class_miou(root) -> float:
    """mIoU of predicting 'background' everywhere: the bar a model must clear."""
    import numpy as np
    from PIL import Image

    from mmfreq.datasets.synthetic_scenes import CLASSES

    labels = np.concatenate([np.asarray(Image.open(p)).ravel()
                             for p in (root / 'annotations' / 'validation').iterdir()])
    labelled = labels[labels > 0]
    return 100 * np.mean(labelled == 1) / len(CLASSES)


def last_miou(output: str) -> float:
    """The mIoU of the last evaluation a tool printed."""
    return float(re.findall(r'mIoU: (\d+\.\d+)', output)[-1])


@pytest.mark.slow
@pytest.mark.xdist_group('trained_demo')
def test_short_training_is_far_above_chance(trained_demo):
    """200 iterations of the demo config (a third of it) on the full built-in data."""
    chance = majority_class_miou(trained_demo.root)
    assert chance < 20
    assert last_miou(trained_demo.output) > chance + 30, (last_miou(trained_demo.output), chance)


@pytest.mark.slow
def test_compiled_training_follows_eager_training(synthetic_root, tmp_path):
    """--compile trains the same model as eager training: the same losses,
    iteration by iteration, while the weights move (no mmengine train_step compile,
    which would recompile whenever the learning rate changes)."""
    options = ['--cfg-options', *small_run_options(synthetic_root, 6, 6), 'randomness.seed=0',
               'train_cfg.val_begin=7', 'param_scheduler.0.start_factor=1.0']
    losses = {}
    for mode in ('eager', 'compiled'):
        # AOT autograd traces forward and backward as inductor would, without its
        # minutes of code generation on a CPU
        flags = ['--compile', *options, 'compile.backend=aot_eager'] if mode == 'compiled' \
            else options
        train = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--work-dir', tmp_path / mode,
                          *flags], timeout=1200)
        output = train.stdout + train.stderr
        assert train.returncode == 0, output[-3000:]
        assert 'Model has been "compiled"' not in output
        assert ("torch.compile(backend='aot_eager') of EncoderDecoder: backbone, neck"
                in output) == (mode == 'compiled'), output[-3000:]
        losses[mode] = {i: r['loss'] for i, r in training_scalars(tmp_path / mode).items()}
    assert sorted(losses['compiled']) == sorted(losses['eager']) == list(range(1, 7))
    for i, loss in losses['eager'].items():
        assert losses['compiled'][i] == pytest.approx(loss, rel=1e-3), (i, losses)
    assert losses['eager'][6] != pytest.approx(losses['eager'][1], rel=1e-2)  # it learns


@pytest.mark.slow
@pytest.mark.xdist_group('trained_demo')
def test_compiled_testing_scores_as_the_eager_validation(trained_demo, tmp_path):
    """tools/test.py --compile on the trained checkpoint gives the mIoU its eager
    validation at that iteration gave (the same images, pipeline and weights)."""
    options = [f'{loader}.dataset.data_root={trained_demo.root}'
               for loader in ('val_dataloader', 'test_dataloader')] + ['compile.backend=aot_eager']
    test = run_tool(['tools/test.py', SYNTHETIC_CONFIG, trained_demo.checkpoint, '--compile',
                     '--work-dir', tmp_path, '--cfg-options', *options], timeout=1200)
    assert test.returncode == 0, (test.stdout + test.stderr)[-3000:]
    assert "torch.compile(backend='aot_eager') of EncoderDecoder: backbone, neck" in (
        test.stdout + test.stderr)
    eager = last_miou(trained_demo.output)
    assert abs(last_miou(test.stdout + test.stderr) - eager) <= 0.05, eager


@pytest.fixture(scope='module')
def synthetic_coco_root(tmp_path_factory):
    from mmfreq.datasets.synthetic_scenes import write_coco

    root = tmp_path_factory.mktemp('synthetic_coco')
    write_coco(str(root), num_train=120, num_val=20, seed=0)
    return root


def coco_options(root) -> list:
    """--cfg-options pointing every loader and evaluator of a COCO config at ``root``."""
    root = f'{root}/'
    options = [f'{loader}.dataset.data_root={root}'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    return options + [f'{evaluator}.ann_file={root}annotations/instances_val2017.json'
                      for evaluator in ('val_evaluator', 'test_evaluator')]


@pytest.mark.slow
def test_detection_train_then_test_reports_coco_map(synthetic_coco_root, tmp_path):
    """One epoch of Mask R-CNN + VAN-B0 from scratch already finds the shapes: the
    reported mAP is pycocotools' on the dumped predictions, well above chance."""
    config = ROOT / 'configs' / 'mask_rcnn_van_t_synthetic.py'
    options = ['--cfg-options', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
               'param_scheduler.1.T_max=1', 'param_scheduler.1.end=1',
               *coco_options(synthetic_coco_root)]
    work_dir = tmp_path / 'work'
    train = run_tool(['tools/train.py', config, '--work-dir', work_dir, *options], timeout=1200)
    output = train.stdout + train.stderr
    assert train.returncode == 0, output[-3000:]
    built = model_built_line(output)
    assert 'MaskRCNN' in built and 'VAN' in built and '4 classes' in built, built

    predictions = tmp_path / 'predictions.pkl'
    test = run_tool(['tools/test.py', config, work_dir / 'epoch_1.pth', '--work-dir', work_dir,
                     '--out', predictions, *options], timeout=600)
    output = test.stdout + test.stderr
    assert test.returncode == 0, output[-3000:]
    reported = {kind: float(re.search(rf'coco/{kind}_mAP: (\d+\.\d+)', output).group(1))
                for kind in ('bbox', 'segm')}
    # the same predictions scored by pycocotools directly, and with each image
    # given the next image's predictions: what boxes of the right sizes and
    # classes score at random places
    samples = pickle.loads(predictions.read_bytes())
    ann_file = synthetic_coco_root / 'annotations' / 'instances_val2017.json'
    shuffled = [dict(sample, img_id=samples[i - 1]['img_id']) for i, sample in enumerate(samples)]
    for kind in ('bbox', 'segm'):
        assert abs(coco_map(ann_file, samples, kind) - reported[kind]) < 6e-4, (kind, reported)
        chance = coco_map(ann_file, shuffled, kind)
        assert reported[kind] > max(2 * chance, 0.001), (kind, reported[kind], chance)


def coco_map(ann_file: Path, samples: list, kind: str) -> float:
    """COCO mAP@[.5:.95] of dumped mmdet predictions, by pycocotools alone.
    Labels index the categories in the annotation file's order (the config's
    ``metainfo.classes`` lists them in that order)."""
    import contextlib
    import io

    import numpy as np
    from pycocotools import mask as mask_util
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(ann_file))
    category_ids = [c['id'] for c in sorted(truth.dataset['categories'], key=lambda c: c['id'])]
    detections = []
    for sample in samples:
        pred = sample['pred_instances']
        rows = zip(pred['bboxes'].tolist(), pred['scores'].tolist(), pred['labels'].tolist())
        for i, (box, score, label) in enumerate(rows):
            det = dict(image_id=sample['img_id'], category_id=category_ids[label], score=score,
                       bbox=[box[0], box[1], box[2] - box[0], box[3] - box[1]])
            if kind == 'segm':
                rle = mask_util.encode(np.asfortranarray(pred['masks'][i].numpy().astype(np.uint8)))
                det['segmentation'] = dict(rle, counts=rle['counts'].decode())
            detections.append(det)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(truth, truth.loadRes(detections), kind)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return float(evaluation.stats[0])


@pytest.mark.slow
def test_image_without_annotations_trains(synthetic_coco_root, tmp_path):
    """COCO images with zero instances are kept (filter_empty_gt off) and train."""
    import json
    import shutil

    root = tmp_path / 'coco'
    shutil.copytree(synthetic_coco_root, root)
    ann_file = root / 'annotations' / 'instances_train2017.json'
    coco = json.loads(ann_file.read_text())
    coco['images'] = coco['images'][:4]
    coco['annotations'] = [a for a in coco['annotations'] if a['image_id'] in (1, 2)]
    ann_file.write_text(json.dumps(coco))  # images 3 and 4 now have no instances
    config = ROOT / 'configs' / 'mask_rcnn_van_t_synthetic.py'
    result = run_tool(['tools/train.py', config, '--work-dir', tmp_path / 'work',
                       '--cfg-options', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=2',
                       'param_scheduler.1.T_max=1', 'param_scheduler.1.end=1',
                       'train_dataloader.dataset.filter_cfg.filter_empty_gt=False',
                       'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
                       'train_dataloader.persistent_workers=False', *coco_options(root)],
                      timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert 'Epoch(train) [1][2/2]' in output


def faulty_copy(synthetic_root, tmp_path, index=12):
    """A copy of the small built-in data whose ``index``-th training label has class 99."""
    import shutil

    import numpy as np
    from PIL import Image

    root = tmp_path / 'data'
    shutil.copytree(synthetic_root, root)
    label = root / 'annotations' / 'training' / f'ADE_train_{index:08d}.png'
    values = np.asarray(Image.open(label)).copy()
    values[:8, :8] = 99
    Image.fromarray(values).save(label)
    return root, label


@pytest.mark.slow
def test_train_refuses_a_head_that_does_not_fit_the_dataset(synthetic_root, tmp_path):
    result = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--work-dir', tmp_path / 'work',
                       '--cfg-options', *small_run_options(synthetic_root, 2, 2),
                       'model.decode_head.num_classes=4'])
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert 'model.decode_head.num_classes=4' in result.stderr
    assert 'train_dataloader.dataset' in result.stderr and '6 classes' in result.stderr
    assert 'Traceback' not in output and not (tmp_path / 'work' / 'iter_1.pth').exists()


@pytest.mark.slow
@pytest.mark.parametrize('index,skip', [(2, False), (12, True)])
def test_bad_label_stops_training_naming_the_file(synthetic_root, tmp_path, index, skip):
    """Label 2 is among the pre-flight's 4 decoded samples; with --skip-preflight
    (as for a label beyond them) loading the sample names the file (16 iterations
    of 2 samples visit every one of the 16)."""
    root, label = faulty_copy(synthetic_root, tmp_path, index)
    result = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--work-dir', tmp_path / 'work',
                       *(['--skip-preflight'] if skip else []),
                       '--cfg-options', *small_run_options(root, 16, 16)])
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert f'{label}: label values' in result.stderr and '[9' in result.stderr
    assert 'out of bounds' not in output
    assert ('pre-flight' in result.stderr) == (index == 2 and not skip)


@pytest.mark.slow
def test_test_refuses_a_checkpoint_of_another_model(synthetic_root, tmp_path):
    import torch

    from mmfreq.apis import build_model_from_config

    other = build_model_from_config(str(ROOT / 'configs' / 'fpn_aa_r50_synthetic.py'))
    checkpoint = tmp_path / 'other.pth'
    torch.save({'state_dict': other.state_dict(), 'meta': {}}, checkpoint)
    options = ['--cfg-options', *small_run_options(synthetic_root, 2, 2)]
    result = run_tool(['tools/test.py', SYNTHETIC_CONFIG, checkpoint,
                       '--work-dir', tmp_path / 'work', *options])
    assert result.returncode == 1, result.stderr[-3000:]
    assert str(checkpoint) in result.stderr and 'EncoderDecoder' in result.stderr
    assert 'missing keys: backbone.' in result.stderr and '--non-strict' in result.stderr
    assert not re.search(r'mIoU: \d', result.stdout + result.stderr)

    result = run_tool(['tools/test.py', SYNTHETIC_CONFIG, checkpoint, '--non-strict',
                       '--work-dir', tmp_path / 'work', *options])
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize('content', [b'', b'PK\x03\x04 the first bytes of a zip'])
def test_empty_and_truncated_checkpoints_are_named(synthetic_root, tmp_path, content):
    checkpoint = tmp_path / 'broken.pth'
    checkpoint.write_bytes(content)
    result = run_tool(['tools/test.py', SYNTHETIC_CONFIG, checkpoint, '--work-dir',
                       tmp_path / 'work', '--cfg-options',
                       *small_run_options(synthetic_root, 2, 2)])
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith('error:') and str(checkpoint) in last_line, result.stderr[-3000:]
    assert f'({len(content)} bytes' in last_line and 'not a readable checkpoint' in last_line


@pytest.mark.slow
def test_cfg_options_mistakes_are_named():
    result = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--cfg-options',
                       'train_cfg.max_iters'])
    assert result.returncode == 2
    assert "'train_cfg.max_iters'" in result.stderr and '"="' in result.stderr
    result = run_tool(['tools/test.py', SYNTHETIC_CONFIG, SYNTHETIC_CONFIG, '--cfg-options',
                       'optim_wraper.optimizer.lr=0.1'])
    assert result.returncode == 1
    assert "'optim_wraper'" in result.stderr and "'optim_wrapper'" in result.stderr


@pytest.mark.slow  # subprocess runs of the tools
@pytest.mark.parametrize('tool, switch', [('tools/train.py', '--debug'),
                                          ('tools/misc/check_dataset.py', 'MMFREQ_DEBUG=1')])
def test_debug_shows_the_traceback_behind_the_error_line(tool, switch):
    args = [tool, SYNTHETIC_CONFIG, '--cfg-options', 'optim_wraper.optimizer.lr=0.1']
    plain = run_tool(args)
    assert plain.returncode == 1 and 'Traceback' not in plain.stderr
    if switch.startswith('--'):
        debug = run_tool(args + [switch])
    else:
        debug = run_tool(args, env=dict([switch.split('=')]))
    assert debug.returncode == 1
    lines = debug.stderr.strip().splitlines()
    assert lines[-1] == plain.stderr.strip().splitlines()[-1]
    assert 'Traceback (most recent call last):' in debug.stderr
    assert 'in apply_cfg_options' in debug.stderr
    assert lines[-2].startswith('mmfreq.utils.cfg_options.CfgOptionError')
    assert 'optim_wraper' in lines[-2]


@pytest.mark.slow
def test_check_dataset_exit_codes(synthetic_root, synthetic_coco_root, tmp_path):
    tool = 'tools/misc/check_dataset.py'
    ade_options = [f'{loader}.dataset.data_root={synthetic_root}'
                   for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    clean = run_tool([tool, SYNTHETIC_CONFIG, '--cfg-options', *ade_options])
    assert clean.returncode == 0, clean.stdout[-3000:]
    assert '0 finding(s)' in clean.stdout and 'decode_head.num_classes=6' in clean.stdout

    coco = run_tool([tool, ROOT / 'configs' / 'mask_rcnn_van_t_synthetic.py',
                     '--cfg-options', *coco_options(synthetic_coco_root)])
    assert coco.returncode == 0, coco.stdout[-3000:]

    root, label = faulty_copy(synthetic_root, tmp_path)
    report = tmp_path / 'report.json'
    faulty = run_tool([tool, SYNTHETIC_CONFIG, '--split', 'train', '--fix-report', report,
                       '--cfg-options', f'train_dataloader.dataset.data_root={root}'])
    assert faulty.returncode == 1
    assert f'ERROR: {label}: label values [99]' in faulty.stdout
    import json
    assert [entry['path'] for entry in json.loads(report.read_text())] == [str(label)]
