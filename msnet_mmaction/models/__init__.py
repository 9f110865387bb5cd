from .motion_squeeze import MotionMaps, MotionSqueeze
from .msnet import MSNet

__all__ = ['MotionSqueeze', 'MotionMaps', 'MSNet']
