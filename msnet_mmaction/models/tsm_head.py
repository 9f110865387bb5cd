"""MMAction2's TSM head, initialised by its ``init_cfg`` when one is given."""
from mmaction.models.heads import TSMHead
from mmaction.registry import MODELS
from mmengine.model import BaseModule


@MODELS.register_module()
class InitCfgTSMHead(TSMHead):
    """``TSMHead`` whose ``init_cfg``, when given, replaces its normal(std=``init_std``) start.

    MMAction2's ``TSMHead.init_weights`` ignores ``init_cfg``. The released MotionSqueeze
    classifier starts Xavier-uniform with a zero bias, which the paper configs ask for with
    ``init_cfg=dict(type='Xavier', layer='Linear', distribution='uniform', bias=0)``. Forward
    pass, losses and checkpoint keys are ``TSMHead``'s.

    Args:
        **kwargs: Passed to ``TSMHead``, ``init_cfg`` included.
    """

    def init_weights(self) -> None:
        if self.init_cfg:
            BaseModule.init_weights(self)
        else:
            super().init_weights()
