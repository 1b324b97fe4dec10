"""Library functions leave the process as they found it: init_model checks
cfg_options as the tools do and restores mmengine's checkpoint loader."""
import pytest
import torch
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import load_from_local

from mmfreq.apis import init_model
from mmfreq.testing.tools import SYNTHETIC_CONFIG
from mmfreq.utils.cfg_options import CfgOptionError
from mmfreq.utils.safe_unpickling import load_from_local_safely


def test_init_model_refuses_a_misspelled_cfg_option():
    """Refused before anything is built, naming the key and the closest one."""
    with pytest.raises(CfgOptionError, match="'modle'.*'model'"):
        init_model(str(SYNTHETIC_CONFIG), cfg_options={'modle.backbone.drop_path_rate': 0.0})


def local_loader():
    """The loader mmengine reads local files with now."""
    return CheckpointLoader._get_checkpoint_loader('model.pth')


@pytest.mark.slow  # builds the synthetic segmentor three times: ~15 s idle, a minute loaded
def test_init_model_leaves_the_checkpoint_loader_as_it_found_it(tmp_path):
    model = init_model(str(SYNTHETIC_CONFIG), cfg_options={'model.backbone.drop_path_rate': 0.3})
    assert model.cfg.model.backbone.drop_path_rate == 0.3
    path = tmp_path / 'model.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    original = local_loader()
    try:
        for before in (load_from_local, load_from_local_safely):
            CheckpointLoader.register_scheme(prefixes='', force=True)(before)
            loaded = init_model(str(SYNTHETIC_CONFIG), str(path))
            assert local_loader() is before, before.__name__
    finally:
        CheckpointLoader.register_scheme(prefixes='', force=True)(original)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, msg=key)
