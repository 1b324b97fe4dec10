"""Version reporting, and the clear error when mmcv lacks its compiled ops."""
import subprocess
import sys

import pytest

from mmfreq.testing.tools import ROOT

# Run Python with mmcv's compiled ops hidden, as on an mmcv built without them.
WITHOUT_OPS = "import sys; sys.modules['mmcv._ext'] = None; "

DETECTOR_CONFIG = """
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
model = dict(
    backbone=dict(_delete_=True, type='mmfreq.VAN', arch='b0', init_cfg=None),
    neck=dict(in_channels=[32, 64, 160, 256]))
"""


def python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_collect_env_reports_versions_and_ops():
    result = python('from mmfreq.utils.collect_env import main; '
                    'raise SystemExit(main(["--check"]))')
    assert result.returncode == 0, result.stdout
    for name in ('torch', 'torchvision', 'mmcv', 'mmengine', 'mmdet', 'mmseg', 'mmpretrain'):
        assert f'\n{name} ' in '\n' + result.stdout
    assert 'mmcv ops' in result.stdout and 'loaded' in result.stdout


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_collect_env_gives_the_fix_when_ops_are_missing():
    result = python(WITHOUT_OPS + 'from mmfreq.utils.collect_env import main; '
                    'raise SystemExit(main(["--check"]))')
    assert result.returncode == 1
    assert 'mmcv ops' in result.stdout and 'missing' in result.stdout
    assert 'PROBLEM:' in result.stdout and 'scripts/build_mmcv.sh' in result.stdout


@pytest.mark.slow
def test_building_a_detector_without_ops_names_the_fix(tmp_path):
    config = tmp_path / 'retinanet_van_b0.py'
    config.write_text(DETECTOR_CONFIG)
    train = str(ROOT / 'tools' / 'train.py')
    code = WITHOUT_OPS + f'import runpy; sys.argv = [{train!r}, {str(config)!r}]; ' \
        f'runpy.run_path({train!r}, run_name="__main__")'
    result = python(code)
    assert result.returncode == 1
    assert 'compiled ops (mmcv._ext)' in result.stderr
    assert 'scripts/build_mmcv.sh' in result.stderr
    assert 'Traceback' not in result.stderr
