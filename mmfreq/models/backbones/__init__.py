from .aa_resnet import AAResNet
from .fdam_deit3 import FDAMDeiT3, convert_deit3_state_dict
from .fdam_mit import FDAMMiT, convert_mit_state_dict
from .fdam_vision_transformer import FDAMVisionTransformer, convert_vit_state_dict
from .focal_transformer import FocalTransformer, convert_focal_state_dict
from .van import VAN, convert_van_state_dict

__all__ = ['AAResNet', 'FDAMDeiT3', 'FDAMMiT', 'FDAMVisionTransformer', 'FocalTransformer', 'VAN',
           'convert_deit3_state_dict', 'convert_focal_state_dict', 'convert_mit_state_dict',
           'convert_van_state_dict', 'convert_vit_state_dict']
