from pathlib import Path

import pytest

from mmfreq.datasets.synthetic_scenes import write_ade20k


def pytest_configure(config) -> None:
    config.addinivalue_line(
        'markers', 'slow: end-to-end runs (subprocess train/test/resume, dist, mim); '
        'skip them with -m "not slow"')


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory) -> Path:
    """A tiny copy of the built-in dataset: 16 training and 4 validation scenes."""
    root = tmp_path_factory.mktemp('synthetic_ade')
    write_ade20k(str(root), num_train=16, num_val=4, seed=0)
    return root
