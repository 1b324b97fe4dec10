"""mim sees the installed mmfreq: `mim list`, and `mim train` on the built-in data."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mmfreq.testing.tools import ROOT, small_run_options


def mim(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'mim', *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_mim_lists_mmfreq():
    result = mim('list')
    assert result.returncode == 0, result.stderr
    assert any(line.split()[:1] == ['mmfreq'] for line in result.stdout.splitlines())


@pytest.mark.slow
def test_mim_train_finds_config_and_tool_by_name(synthetic_root, tmp_path):
    work_dir = tmp_path / 'work'
    result = mim('train', 'mmfreq', 'fpn_van_t_synthetic.py', '--work-dir', str(work_dir),
                 '--cfg-options', *small_run_options(synthetic_root, 2, 2), cwd=tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert '.mim/tools/train.py' in result.stdout
    assert (work_dir / 'iter_2.pth').is_file()


def test_a_wheel_carries_every_config_and_the_bases_they_name():
    import fnmatch
    import runpy

    patterns = runpy.run_path(str(ROOT / 'setup.py'))['PACKAGE_DATA']['mmfreq']
    configs = [p.relative_to(ROOT).as_posix() for p in (ROOT / 'configs').rglob('*.py')]
    assert any(path.startswith('configs/_base_/') for path in configs)
    for path in configs:
        # fnmatch's * crosses '/', setuptools' does not: compare folder depths too
        assert any(fnmatch.fnmatch(f'.mim/{path}', pattern) and
                   pattern.count('/') == path.count('/') + 1 for pattern in patterns), path


def test_model_index_names_existing_configs_by_their_file_name():
    """mim finds configs by file basename; the index must name real files."""
    index = yaml.safe_load((ROOT / 'model-index.yml').read_text())
    collections = {c['Name'] for c in index['Collections']}
    for model in index['Models']:
        assert (ROOT / model['Config']).is_file(), model['Config']
        assert model['Name'] == Path(model['Config']).stem
        assert model['In Collection'] in collections
