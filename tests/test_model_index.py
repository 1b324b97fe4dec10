"""model-index.yml: Results only for the released weights, and those as each
released config states them (its header comment names the file and the
published metric)."""
import re

import pytest
import yaml

from mmfreq.testing.tools import ROOT

INDEX = yaml.safe_load((ROOT / 'model-index.yml').read_text())
RELEASED = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / 'configs').glob('*_released.py'))


def config_header(path: str) -> str:
    """The leading comment of a config, joined into one line."""
    lines = []
    for line in (ROOT / path).read_text().splitlines():
        if not line.startswith('#'):
            break
        lines.append(line.lstrip('# ').strip())
    return ' '.join(lines)


def test_results_only_where_weights_are_listed():
    with_results = {m['Config'] for m in INDEX['Models'] if 'Results' in m}
    with_weights = {m['Config'] for m in INDEX['Models'] if 'Weights' in m}
    assert with_results == with_weights == set(RELEASED)


@pytest.mark.parametrize('config', RELEASED)
def test_released_entry_repeats_its_config(config):
    entry = next(m for m in INDEX['Models'] if m['Config'] == config)
    header = config_header(config)
    assert entry['Weights'] == re.search(r'Weights: (\S+)', header).group(1)
    value, scales = re.search(r'Published: ([\d.]+) mIoU ([\w-]*)', header).groups()
    key = 'mIoU(ms+flip)' if scales == 'multi-scale' else 'mIoU'
    (result, ) = entry['Results']
    assert result['Metrics'] == {key: float(value)}, (config, header)
    assert result['Dataset'] == 'ADE20K'
