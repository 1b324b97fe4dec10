"""--cfg-options: entries without '=' and misspelt top-level keys are named."""
import argparse

import pytest

from mmfreq.cli.config import CfgOptionError, CfgOptionsAction, apply_cfg_options
from mmfreq.testing.tools import SYNTHETIC_CONFIG, read_config


def parse(*options):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def test_entry_without_equals_is_named(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse('train_cfg.val_interval=2', 'train_cfg.max_iters')
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--cfg-options entry 'train_cfg.max_iters' has no \"=\"" in err


def test_values_parse_as_mmengine_parses_them():
    options = parse('train_cfg.max_iters=100', 'model.decode_head.loss_decode.avg_non_ignore=False',
                    'param_scheduler.1.end=7', 'default_hooks.logger.interval=[1,2]')
    assert options == {'train_cfg.max_iters': 100,
                       'model.decode_head.loss_decode.avg_non_ignore': False,
                       'param_scheduler.1.end': 7, 'default_hooks.logger.interval': [1, 2]}


def test_misspelt_top_level_key_is_refused_with_the_closest_keys():
    cfg = read_config(SYNTHETIC_CONFIG)
    with pytest.raises(CfgOptionError, match="no top-level key 'optim_wraper'; did you mean "
                                             "'optim_wrapper'"):
        apply_cfg_options(cfg, {'optim_wraper.optimizer.lr': 0.1})
    assert cfg.optim_wrapper.optimizer.lr == 2e-3  # nothing merged


def test_existing_and_runtime_keys_are_merged():
    cfg = read_config(SYNTHETIC_CONFIG)
    assert 'find_unused_parameters' not in cfg and 'experiment_name' not in cfg
    apply_cfg_options(cfg, {'optim_wrapper.optimizer.lr': 0.1, 'param_scheduler.1.end': 9,
                            'find_unused_parameters': True, 'experiment_name': 'x',
                            'randomness.seed': 3})
    assert cfg.optim_wrapper.optimizer.lr == 0.1 and cfg.param_scheduler[1].end == 9
    assert cfg.find_unused_parameters and cfg.experiment_name == 'x'
    assert cfg.randomness.seed == 3


def test_unknown_key_far_from_any_is_refused_without_suggestion():
    cfg = read_config(SYNTHETIC_CONFIG)
    with pytest.raises(CfgOptionError) as err:
        apply_cfg_options(cfg, {'zzzz': 1})
    assert "no top-level key 'zzzz'" in str(err.value) and 'did you mean' not in str(err.value)
