from .motion_squeeze import MotionMaps, MotionSqueeze
from .msnet import MSNet
from .scores_model import ScoresModel
from .tsm_head import InitCfgTSMHead

__all__ = ['InitCfgTSMHead', 'MotionSqueeze', 'MotionMaps', 'MSNet', 'ScoresModel']
