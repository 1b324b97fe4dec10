"""Two gloo processes on CPU train one model: validation during training, the
saved checkpoint tested in one process and tested in two agree."""
import re

import pytest
import torch

from mmfreq.testing.tools import SYNTHETIC_CONFIG, run_tool, small_run_options

METRICS = re.compile(r'aAcc: (\d+\.\d+)\s+mIoU: (\d+\.\d+)\s+mAcc: (\d+\.\d+)')


@pytest.mark.slow
def test_validation_during_2_process_training_equals_test_of_the_checkpoint(synthetic_root,
                                                                            tmp_path):
    work_dir = tmp_path / 'work'
    options = ['--cfg-options', *small_run_options(synthetic_root, 4, 4)]
    train = run_tool(['tools/dist_train.sh', SYNTHETIC_CONFIG, '2', '--work-dir', work_dir,
                      *options], env={'PORT': '29531', 'OMP_NUM_THREADS': '1'})
    output = train.stdout + train.stderr
    assert train.returncode == 0, output[-3000:]
    assert 'GPU number: 2' in output
    validation = METRICS.findall(output)
    assert len(validation) == 1, output[-3000:]

    checkpoint = torch.load(work_dir / 'iter_4.pth', map_location='cpu', weights_only=False)
    means = [v for k, v in checkpoint['state_dict'].items() if k.endswith('running_mean')]
    assert means and all(m.abs().sum() > 0 for m in means)  # trained, not the initial zeros

    test = run_tool(['tools/test.py', SYNTHETIC_CONFIG, work_dir / 'iter_4.pth',
                     '--work-dir', tmp_path / 'test', *options])
    output = test.stdout + test.stderr
    assert test.returncode == 0, output[-3000:]
    assert METRICS.findall(output) == validation

    dist_test = run_tool(['tools/dist_test.sh', SYNTHETIC_CONFIG, work_dir / 'iter_4.pth', '2',
                          '--work-dir', tmp_path / 'dist_test', *options],
                         env={'PORT': '29532', 'OMP_NUM_THREADS': '1'})
    output = dist_test.stdout + dist_test.stderr
    assert dist_test.returncode == 0, output[-3000:]
    assert 'GPU number: 2' in output
    assert METRICS.findall(output) == validation
