from .van import VAN, convert_van_state_dict

__all__ = ['VAN', 'convert_van_state_dict']
