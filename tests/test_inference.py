"""Inference on mmfreq configs and checkpoints: mmfreq.apis.init_model /
inference_model for every host, and the host toolboxes' own entry points
(Inferencers, init_model / init_detector, mim test) without importing mmfreq."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from mmfreq.datasets.synthetic_scenes import CLASSES, COCO_CLASSES
from mmfreq.testing.fixtures import photo_path, save_runner_like_checkpoint
from mmfreq.testing.messages import line_with
from mmfreq.testing.tools import ROOT, read_config

SEG_CONFIG = ROOT / 'configs' / 'fpn_van_t_synthetic.py'
DET_CONFIG = ROOT / 'configs' / 'mask_rcnn_van_t_synthetic.py'
CLS_CONFIG = ROOT / 'configs' / 'van_b_in1k.py'


@pytest.fixture(scope='module')
def seg_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('seg') / 'iter_2.pth'
    meta = dict(classes=CLASSES, palette=[[i * 40, 255 - i * 40, 0] for i in range(6)])
    state = save_runner_like_checkpoint(SEG_CONFIG, path, meta)
    return path, state, meta


@pytest.fixture(scope='module')
def det_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('det') / 'epoch_1.pth'
    save_runner_like_checkpoint(DET_CONFIG, path, dict(classes=COCO_CLASSES))
    return path


def test_segmentor_loads_checkpoint_and_segments_an_image(seg_checkpoint):
    from mmseg.structures import SegDataSample

    from mmfreq.apis import inference_model, init_model

    path, state, meta = seg_checkpoint
    model = init_model(str(SEG_CONFIG), str(path))
    assert not model.training and type(model).__name__ == 'EncoderDecoder'
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert model.dataset_meta['palette'] == meta['palette']  # the checkpoint's own meta
    result = inference_model(model, photo_path())
    assert isinstance(result, SegDataSample)
    assert result.pred_sem_seg.data.shape == (1, 600, 512)  # the photo's size
    assert 0 <= int(result.pred_sem_seg.data.min()) <= int(result.pred_sem_seg.data.max()) < 6


def test_files_and_arrays_give_the_same_result_in_any_order(seg_checkpoint):
    import mmcv

    from mmfreq.apis import inference_model, init_model

    model = init_model(read_config(SEG_CONFIG), str(seg_checkpoint[0]))
    array = mmcv.imread(photo_path())[:200, :300]  # BGR, as mmcv reads it
    first = inference_model(model, array)
    from_files = inference_model(model, [photo_path(), photo_path()])
    again = inference_model(model, array)
    assert len(from_files) == 2
    assert torch.equal(from_files[0].pred_sem_seg.data, from_files[1].pred_sem_seg.data)
    assert first.pred_sem_seg.data.shape == (1, 200, 300)
    assert torch.equal(first.seg_logits.data, again.seg_logits.data)


def test_without_checkpoint_meta_the_config_names_the_classes(tmp_path):
    from mmfreq.apis import init_model

    path = tmp_path / 'bare.pth'
    save_runner_like_checkpoint(SEG_CONFIG, path)
    for checkpoint in (None, str(path)):
        model = init_model(read_config(SEG_CONFIG), checkpoint)
        # mmseg alone would guess a dataset by the class count (not ours)
        assert model.dataset_meta['classes'] == CLASSES
        assert [list(c) for c in model.dataset_meta['palette']][:2] == [[120, 120, 120],
                                                                        [180, 120, 120]]


def test_detector_detects_with_the_configs_classes(det_checkpoint):
    from mmdet.structures import DetDataSample

    from mmfreq.apis import inference_model, init_model

    model = init_model(read_config(DET_CONFIG), str(det_checkpoint))
    assert type(model).__name__ == 'MaskRCNN'
    assert model.dataset_meta['classes'] == COCO_CLASSES
    # not COCO's 80
    assert init_model(read_config(DET_CONFIG)).dataset_meta['classes'] == COCO_CLASSES
    result = inference_model(model, photo_path())
    assert isinstance(result, DetDataSample)
    instances = result.pred_instances
    assert instances.bboxes.shape[1] == 4 and len(instances.scores) == len(instances.labels)
    if len(instances):  # boxes are in the photo's coordinates
        assert float(instances.bboxes[:, 2].max()) <= 512 + 1e-3


def test_classifier_returns_mmpretrain_data_samples():
    from mmpretrain.structures import DataSample

    from mmfreq.apis import inference_model, init_model

    model = init_model(str(CLS_CONFIG))
    assert len(model.dataset_meta['classes']) == 1000
    result = inference_model(model, [photo_path()])
    assert isinstance(result, list) and isinstance(result[0], DataSample)
    assert result[0].pred_score.shape == (1000,)
    assert abs(float(result[0].pred_score.sum()) - 1) < 1e-4


def test_a_config_of_another_scope_is_named(tmp_path):
    from mmfreq.apis import init_model

    config = tmp_path / 'edit_cfg.py'
    config.write_text("default_scope = 'mmagic'\nmodel = dict(type='BasicVSR')\n")
    with pytest.raises(ValueError) as err:
        init_model(str(config))
    # the file, its scope, and the scopes that are served
    assert line_with(str(err.value), 'edit_cfg.py', "default_scope='mmagic'", 'mmseg')


def test_a_missing_checkpoint_is_named(tmp_path):
    from mmfreq.apis import init_model

    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        init_model(str(SEG_CONFIG), str(tmp_path / 'nowhere.pth'))


def run_without_mmfreq(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python that checks mmfreq is not imported before it."""
    prelude = 'import sys\nassert not any(m.startswith("mmfreq") for m in sys.modules)\n'
    return subprocess.run([sys.executable, '-c', prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


@pytest.mark.slow
@pytest.mark.parametrize('entry', ['inferencer', 'init_model'])
def test_mmseg_entry_points_work_without_importing_mmfreq(seg_checkpoint, entry):
    path = seg_checkpoint[0]
    if entry == 'inferencer':
        code = f"""
            from mmseg.apis import MMSegInferencer
            inferencer = MMSegInferencer(model={str(SEG_CONFIG)!r}, weights={str(path)!r},
                                         device='cpu')
            result = inferencer({photo_path()!r}, return_datasamples=True)
            """
    else:
        code = f"""
            from mmseg.apis import inference_model, init_model
            model = init_model({str(SEG_CONFIG)!r}, {str(path)!r}, device='cpu')
            result = inference_model(model, {photo_path()!r})
            """
    result = run_without_mmfreq(code + 'print("mask", tuple(result.pred_sem_seg.shape))\n')
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'mask (600, 512)' in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize('entry', ['inferencer', 'init_detector'])
def test_mmdet_entry_points_work_without_importing_mmfreq(det_checkpoint, entry):
    if entry == 'inferencer':
        code = f"""
            from mmdet.apis import DetInferencer
            inferencer = DetInferencer(model={str(DET_CONFIG)!r}, weights={str(det_checkpoint)!r},
                                       device='cpu')
            result = inferencer({photo_path()!r}, return_datasamples=True)['predictions'][0]
            """
    else:
        code = f"""
            from mmdet.apis import inference_detector, init_detector
            model = init_detector({str(DET_CONFIG)!r}, {str(det_checkpoint)!r}, device='cpu')
            result = inference_detector(model, {photo_path()!r})
            """
    code += 'print("boxes", tuple(result.pred_instances.bboxes.shape[1:]), result.img_shape)\n'
    result = run_without_mmfreq(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'boxes (4,)' in result.stdout


@pytest.mark.slow
def test_mim_test_runs_an_mmfreq_checkpoint(seg_checkpoint, synthetic_root, tmp_path):
    from mmfreq.testing.tools import small_run_options

    result = subprocess.run(
        [sys.executable, '-m', 'mim', 'test', 'mmfreq', 'fpn_van_t_synthetic.py',
         '--checkpoint', str(seg_checkpoint[0]), '--work-dir', str(tmp_path / 'work'),
         '--cfg-options', *small_run_options(synthetic_root, 2, 2)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert 'mIoU' in output


def test_demo_data_is_a_real_photo():
    """The photograph all inference tests use: matplotlib's sample, 600x512 RGB."""
    from PIL import Image

    image = Image.open(photo_path())
    assert image.size == (512, 600) and image.mode == 'RGB'
    assert np.asarray(image).std() > 30  # a picture, not a flat fill


@pytest.mark.slow  # a subprocess run of the tool
def test_tta_without_a_tta_model_is_refused_naming_the_config(tmp_path):
    """mmdet has no test-time augmentation for instance masks: Mask R-CNN configs have none."""
    from mmfreq.testing.tools import run_tool

    checkpoint = tmp_path / 'any.pth'
    checkpoint.write_bytes(b'')
    result = run_tool(['tools/test.py', DET_CONFIG, checkpoint, '--tta'])
    assert result.returncode == 1
    assert line_with(result.stderr, '--tta', str(DET_CONFIG), 'tta_model', 'tta_pipeline')


@pytest.mark.parametrize('name', ['retinanet_van_b_1x.py', 'retinanet_focal_s_3x.py',
                                  'retinanet_aa_r50_1x.py', 'upernet_van_b.py'])
def test_full_size_configs_build_their_tta_model(name):
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    cfg = Config.fromfile(ROOT / 'configs' / name)
    init_default_scope(cfg.default_scope)
    cfg.tta_model.module = cfg.model
    model = MODELS.build(cfg.tta_model)
    assert type(model).__name__ == {'mmdet': 'DetTTAModel', 'mmseg': 'SegTTAModel'}[
        cfg.default_scope]
    augment = cfg.tta_pipeline[-1]
    assert augment.type == 'TestTimeAug' and len(augment.transforms[1]) == 2  # flip or not


@pytest.mark.slow
def test_tta_metric_differs_from_single_scale(synthetic_root, tmp_path):
    """tools/test.py --tta on the built-in data: 3 scales x 2 flips, its own mIoU."""
    import re

    from mmengine.runner import save_checkpoint

    from mmfreq.apis import build_model_from_config
    from mmfreq.testing.tools import run_tool

    torch.manual_seed(0)  # default initialisation: varied, input-dependent predictions
    checkpoint = tmp_path / 'seg.pth'
    save_checkpoint(dict(meta={}, state_dict=build_model_from_config(
        str(SEG_CONFIG)).state_dict()), str(checkpoint))
    options = ['--cfg-options', f'test_dataloader.dataset.data_root={synthetic_root}',
               'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    miou = {}
    for tta in ([], ['--tta']):
        result = run_tool(['tools/test.py', SEG_CONFIG, checkpoint, '--work-dir',
                           tmp_path / 'work', *tta, *options])
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        miou[bool(tta)] = float(re.findall(r'mIoU: (\d+\.\d+)', output)[-1])
    assert miou[True] != miou[False], miou


@pytest.mark.slow
def test_detection_tta_runs_on_the_built_in_data(tmp_path):
    """tools/test.py --tta on the built-in COCO-format scenes: RetinaNet's 3 sizes x
    2 flips merged by NMS print their own bbox mAP, from other boxes than one pass."""
    import pickle
    import re

    from mmengine.runner import save_checkpoint

    from mmfreq.apis import build_model_from_config
    from mmfreq.datasets.synthetic_scenes import write_coco
    from mmfreq.testing.tools import run_tool

    config = ROOT / 'configs' / 'retinanet_van_t_synthetic.py'
    root = tmp_path / 'coco'
    write_coco(str(root), num_train=2, num_val=4, seed=0)
    torch.manual_seed(0)
    checkpoint = tmp_path / 'det.pth'
    save_checkpoint(dict(meta={}, state_dict=build_model_from_config(str(config)).state_dict()),
                    str(checkpoint))
    # an untrained head scores every anchor near its 0.01 prior: keep all boxes
    options = ['--cfg-options', f'test_dataloader.dataset.data_root={root}/',
               f'test_evaluator.ann_file={root}/annotations/instances_val2017.json',
               'model.test_cfg.score_thr=0.0', 'test_dataloader.num_workers=0',
               'test_dataloader.persistent_workers=False']
    boxes = {}
    for tta in ([], ['--tta']):
        out = tmp_path / f'predictions{len(tta)}.pkl'
        result = run_tool(['tools/test.py', config, checkpoint, '--work-dir', tmp_path / 'work',
                           '--out', out, *tta, *options])
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        assert re.search(r'bbox_mAP: \d+\.\d+', output), output[-3000:]
        with open(out, 'rb') as f:
            boxes[bool(tta)] = [p['pred_instances']['bboxes'] for p in pickle.load(f)]
    assert len(boxes[True]) == len(boxes[False]) == 4
    assert any(a.shape != b.shape or not torch.allclose(a, b)
               for a, b in zip(boxes[True], boxes[False]))
