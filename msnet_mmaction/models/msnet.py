"""The MSNet recognizer: any MMAction2 2D backbone with MotionSqueeze modules inserted."""
import copy
from contextlib import ExitStack
from typing import List, Optional, Union

import torch.nn as nn
from torch import Tensor
from mmengine.model import ModuleList
from mmaction.models.recognizers import Recognizer2D
from mmaction.registry import MODELS
from mmaction.utils import ConfigType, OptConfigType

from .motion_squeeze import MotionSqueeze


def stage_out_channels(stage: nn.Module) -> Optional[int]:
    """Channels a backbone stage outputs: those of its last BatchNorm, else of its last conv."""
    modules = list(stage.modules())
    for module in reversed(modules):
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            return module.num_features
    for module in reversed(modules):
        if isinstance(module, nn.Conv2d):
            return module.out_channels
    return None


class _ApplyMotion:
    """Forward hook that passes a stage's output through a motion module.

    A plain object (not a closure) so that ``copy.deepcopy`` of the model re-targets it at the copy.
    """

    def __init__(self, motion: nn.Module) -> None:
        self.motion = motion

    def __call__(self, stage: nn.Module, inputs, output):
        return self.motion(output)


@MODELS.register_module()
class MSNet(Recognizer2D):
    """A 2D recognizer with MotionSqueeze modules after named backbone stages.

    The motion modules live in ``backbone.motion_modules`` (so they come before ``cls_head`` in
    ``model.modules()``, as MMAction2's TSM optimizer constructor expects) and run as forward hooks
    on their stages. The backbone's own parameter names are unchanged, so ImageNet and TSM
    checkpoints load as they are.

    Args:
        backbone (dict): Any MMAction2 2D backbone (ResNetTSM, ResNet, MobileNetV2TSM, ...).
        cls_head (dict, optional): Classification head. Defaults to None.
        motion (dict or list[dict]): One config per motion module; each may name the stage it
            follows with ``insert_after`` (default ``'layer2'``). ``num_segments`` defaults to the
            backbone's. Defaults to ``dict(type='MotionSqueeze', in_channels=512)``.
        neck, train_cfg, test_cfg, data_preprocessor: As in ``Recognizer2D``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 cls_head: OptConfigType = None,
                 motion: Union[dict, List[dict]] = dict(type='MotionSqueeze', in_channels=512),
                 neck: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None) -> None:
        super().__init__(backbone=backbone, cls_head=cls_head, neck=neck, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor)
        motion_cfgs = [motion] if isinstance(motion, dict) else list(motion)
        if not motion_cfgs:
            raise ValueError('MSNet needs at least one motion module config in `motion`')
        self.backbone.motion_modules = ModuleList()
        for index, cfg in enumerate(motion_cfgs):
            self._insert_motion(index, copy.deepcopy(dict(cfg)))

    def _insert_motion(self, index: int, cfg: dict) -> None:
        key = f'model.motion[{index}]'
        stage_name = cfg.pop('insert_after', 'layer2')
        stage = getattr(self.backbone, stage_name, None) if isinstance(stage_name, str) else None
        if not isinstance(stage, nn.Module) or stage_name == 'motion_modules':
            stages = [name for name, _ in self.backbone.named_children() if name != 'motion_modules']
            raise ValueError(f'{key}.insert_after={stage_name!r} is not a stage of '
                             f'{type(self.backbone).__name__}; its stages are {stages}')
        if cfg.get('num_segments') is None:
            cfg['num_segments'] = getattr(self.backbone, 'num_segments', None)
            if cfg['num_segments'] is None:
                raise ValueError(f'{key}.num_segments is required: {type(self.backbone).__name__} '
                                 'does not define num_segments')
        channels = stage_out_channels(stage)
        if channels is not None and cfg.get('in_channels') != channels:
            raise ValueError(f'{key}.in_channels={cfg.get("in_channels")} does not match the '
                             f'{channels} channels that backbone.{stage_name} outputs')
        module = MODELS.build(cfg)
        module.insert_after = stage_name
        self.backbone.motion_modules.append(module)
        stage.register_forward_hook(_ApplyMotion(module))

    def extract_feat(self, inputs: Tensor, **kwargs):
        """``Recognizer2D.extract_feat`` after checking that ``inputs`` (N, V * T, C, H, W) hold
        whole clips of every motion module's ``num_segments`` frames."""
        if inputs.dim() == 5:
            for index, module in enumerate(self.backbone.motion_modules):
                if inputs.shape[1] % module.num_segments:
                    raise ValueError(
                        f'model.motion[{index}] pairs clips of num_segments={module.num_segments} '
                        f'frames, but each sample has {inputs.shape[1]} frames; sample a multiple '
                        'of it (SampleFrames num_clips) or set the backbone\'s num_segments')
        with self._deferred_finite_checks():
            return super().extract_feat(inputs, **kwargs)

    def forward(self, *args, **kwargs):
        """``Recognizer2D.forward``; the motion modules check that their inputs were finite once it
        has run, not between the backbone's stages (:meth:`MotionSqueeze.deferred_finite_checks`)."""
        with self._deferred_finite_checks():
            return super().forward(*args, **kwargs)

    def _deferred_finite_checks(self) -> ExitStack:
        checks = ExitStack()
        for module in self.backbone.motion_modules:
            checks.enter_context(module.deferred_finite_checks())
        return checks

    @property
    def motion_modules(self) -> List[MotionSqueeze]:
        """The inserted motion modules, in insertion order."""
        return list(self.backbone.motion_modules)

    def init_weights(self) -> None:
        """Initialise as ``Recognizer2D``, then any motion module the backbone left alone.

        ``ResNetTSM`` with ``pretrained2d=True`` only loads torchvision weights into its own layers.
        """
        super().init_weights()
        for module in self.backbone.motion_modules:
            if not module.is_init:
                module.init_weights()
