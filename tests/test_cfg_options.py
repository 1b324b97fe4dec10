"""--cfg-options: values parsed as mmengine parses them but keeping their
spaces, entries without '=' and misspelt top-level keys named, loaders
without workers fitted."""
import argparse
import shutil

import pytest

from mmfreq.cli.config import CfgOptionsAction, fit_workers
from mmfreq.testing.tools import SYNTHETIC_CONFIG, read_config, run_tool, small_run_options
from mmfreq.utils.cfg_options import CfgOptionError, apply_cfg_options


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


@pytest.mark.parametrize('value', [
    '1', '-2', '0.5', '1e-3', 'true', 'False', 'None', 'none', 'abc', '', 'a,b', 'a,', '1,2.5,x',
    '[]', '()', '[1]', '(1,)', '[1,2,]', '[a,[b,(c,1)],2]', '((1,2),(3,4))', '[(1,2),c]',
    'mmseg.EncoderDecoder', 'data/x-1_2.png'])
def test_values_without_spaces_parse_as_mmengine_parses_them(value):
    """The reference is mmengine's own DictAction on the same entry."""
    from mmengine.config import DictAction
    reference = argparse.ArgumentParser()
    reference.add_argument('--cfg-options', nargs='+', action=DictAction)
    expected = reference.parse_args(['--cfg-options', f'key={value}']).cfg_options['key']
    got = parse(f'key={value}')['key']
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize('value, expected', [
    ('/tmp/my data é', '/tmp/my data é'),  # a path the shell passed quoted
    ('  /tmp/a b  ', '/tmp/a b'),
    ('"/tmp/my data"', '/tmp/my data'),
    ("'a, b (c)'", 'a, b (c)'),  # quoted: commas and brackets are text
    ('"7"', '7'),  # quoted: a string, not a number
    ('["/tmp/x y", 3, \'z,w\']', ['/tmp/x y', 3, 'z,w']),
    ('[a b, (c d, 2)]', ['a b', ('c d', 2)]),
    ("/tmp/Bob's data", "/tmp/Bob's data"),  # a quote inside a word is text
    ('a(1) b', 'a(1) b'),
])
def test_spaces_and_quoted_values_are_kept(value, expected):
    assert parse(f'train_dataloader.dataset.data_root={value}') == {
        'train_dataloader.dataset.data_root': expected}


@pytest.mark.parametrize('value, unclosed', [('[1,2', ']'), ('(a,[b)', ']'), ('"abc', '"')])
def test_unclosed_bracket_or_quote_is_named(capsys, value, unclosed):
    with pytest.raises(SystemExit) as exit_info:
        parse(f'model.x={value}')
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"entry 'model.x={value}'" in err and repr(unclosed) in err


def test_loaders_without_workers_get_persistent_workers_off():
    cfg = read_config(SYNTHETIC_CONFIG)
    assert cfg.train_dataloader.persistent_workers and cfg.val_dataloader.persistent_workers
    apply_cfg_options(cfg, {'train_dataloader.num_workers': 0, 'test_dataloader.num_workers': 0})
    assert fit_workers(cfg) == ['train_dataloader', 'test_dataloader']
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.test_dataloader.persistent_workers is False
    assert cfg.val_dataloader.persistent_workers is True  # it still has workers
    assert fit_workers(cfg) == []  # nothing left to change


@pytest.mark.slow  # a subprocess training run
def test_data_root_with_spaces_and_no_workers_trains(synthetic_root, tmp_path):
    """data_root given with spaces (as a shell passes a quoted path), every
    loader with num_workers=0 and the config's persistent_workers=True."""
    root = tmp_path / 'my data é'
    shutil.copytree(synthetic_root, root)
    options = [o.replace(str(synthetic_root), str(root))
               for o in small_run_options(synthetic_root, max_iters=2, interval=2)
               if 'persistent_workers' not in o]
    assert any(str(root) in o for o in options)
    work_dir = tmp_path / 'work'
    result = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--work-dir', work_dir,
                       '--cfg-options', *options])
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert (work_dir / 'iter_2.pth').is_file()
    log = result.stdout + result.stderr
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert f'{loader}.num_workers=0: persistent_workers turned off' in log
    assert f"'{root}'" in (work_dir / 'fpn_van_t_synthetic.py').read_text()  # the dumped config


def test_key_under_a_value_that_is_no_dict_is_refused_naming_the_option():
    cfg = read_config(SYNTHETIC_CONFIG)
    assert cfg.model.backbone.init_cfg is None
    with pytest.raises(CfgOptionError) as err:
        apply_cfg_options(cfg, {'model.backbone.init_cfg.type': 'Pretrained'})
    assert '--cfg-options model.backbone.init_cfg.type: ' in str(err.value)
    assert 'init_cfg' in str(err.value).split(': ', 1)[1]  # mmengine's reason names the key
    assert cfg.model.backbone.init_cfg is None
