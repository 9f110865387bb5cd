from .motion_squeeze import MotionMaps, MotionSqueeze
from .msnet import MSNet
from .scores_model import ScoresModel

__all__ = ['MotionSqueeze', 'MotionMaps', 'MSNet', 'ScoresModel']
