"""The MotionSqueeze module (Kwon et al., ECCV 2020), as in the authors' released code."""
import copy
from contextlib import contextmanager
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmaction.registry import MODELS
from torch import Tensor

from ..ops import add_rectified, kernel_soft_argmax, local_correlation
from ..ops.policy import check_implementation


#: The released code's initialisation (``resnet_TSM.py``): convs Kaiming-normal (fan_out, ReLU),
#: BNs weight 1 and bias 0.
RELEASED_INIT = [
    dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu',
         distribution='normal'),
    dict(type='Constant', layer='BatchNorm2d', val=1, bias=0),
]


class MotionMaps(NamedTuple):
    """What the module estimates for each pair of neighbouring frames (t, t + 1).

    Attributes:
        displacement (Tensor): (N, T - 1, 2, H, W), channels (u, v): horizontal and vertical
            displacement from frame t to t + 1 in units of ``max_displacement`` grid steps.
        confidence (Tensor): (N, T - 1, 1, H, W), the peak correlation at each position.
    """
    displacement: Tensor
    confidence: Tensor


def _conv_bn_relu(in_channels: int,
                  out_channels: int,
                  kernel_size: int = 1,
                  groups: int = 1,
                  relu: bool = True) -> list:
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, groups=groups,
                  bias=False),
        nn.BatchNorm2d(out_channels)
    ] + ([nn.ReLU(inplace=True)] if relu else [])


def _separable_block(in_channels: int, out_channels: int, kernel_size: int,
                     last_relu: bool = True) -> nn.Sequential:
    """Depthwise k x k conv -> BN -> ReLU -> pointwise conv -> BN (-> ReLU), without biases.

    Indices 0/1 and 3/4 hold the convs and BNs, as in the released code's ``flow_refinement``.
    """
    return nn.Sequential(*_conv_bn_relu(in_channels, in_channels, kernel_size, groups=in_channels),
                         *_conv_bn_relu(in_channels, out_channels, relu=last_relu))


@MODELS.register_module()
class MotionSqueeze(BaseModule):
    """Learns motion features from neighbouring frames and adds them to the feature stream.

    Input and output have shape (N * T, C, H, W), frames of a clip adjacent. Steps: 1x1 channel
    reduction (conv, BN, ReLU) to ``reduced_channels``; L2-normalisation over channels; local
    correlation of frame t with frame t + 1 within ``max_displacement``; ReLU; confidence (maximum)
    and kernel soft-argmax displacement; the last frame of a clip reuses the clip's last pair; four
    depthwise-separable blocks map the (u, v, confidence) maps to ``in_channels`` motion features,
    which are added to the input.

    Args:
        in_channels (int): Channels of the feature map it is inserted on (512 after ResNet-50's
            ``layer2``, 128 after ResNet-18's).
        num_segments (int, optional): Frames per clip, ``T``. ``MSNet`` fills it in from the
            backbone. Defaults to None.
        reduced_channels (int): Channels the correlation is computed on. Defaults to 64.
        max_displacement (int): ``d``; offsets span [-d, d] grid steps both ways. Defaults to 7.
        dilation (int): Pixels per grid step of the correlation. Defaults to 1.
        sigma (float): Std of the soft-argmax Gaussian window, grid steps. Defaults to 5.
        temperature (float): Soft-argmax softmax temperature. Defaults to 100.
        use_displacement (bool): Feed (u, v) to the transformation. Defaults to True.
        use_confidence (bool): Feed the confidence to the transformation. Defaults to True.
        transform_channels (Sequence[int]): Widths of the first three separable blocks; the fourth
            outputs ``in_channels``. Defaults to (16, 32, 64).
        transform_kernels (Sequence[int]): Depthwise kernel size of each block. Defaults to
            (7, 3, 3, 3).
        implementation (str): How the correlation and the soft-argmax run. ``'auto'``: as the
            operators ``msnet_mmaction::local_correlation`` and ``kernel_soft_argmax``, which
            run the device's hand-written kernel where one applies (and stay single nodes
            under ``torch.compile`` and ``torch.export``); ``'reference'``: as plain PyTorch
            operations, which ``torch.compile`` fuses itself. Defaults to ``'auto'``.
        output_scale (float): Initial weight of the transformation's last BatchNorm, which sets
            the scale of the motion features added to the stream when training starts. Defaults
            to 1, the released code's.
        transform_bias (float): Initial bias of the BatchNorms the transformation's ReLUs follow.
            At 0 (the released code's), each of those ReLUs passes about half of its channel's
            values when training starts, and the first block's, which filters u and v channel
            by channel, keeps one sign of each. A positive bias starts those blocks closer to
            linear, so motion either way reaches the stream. Defaults to 0.
        init_cfg (dict or list[dict], optional): Initialisation. Defaults to None:
            :data:`RELEASED_INIT`, the released code's (its ResNet initialises every conv
            Kaiming-normal, fan_out, and every BN to weight 1, bias 0, the module's included,
            before ImageNet weights overwrite the backbone's own layers). ``MSNet`` initialises
            the module even when a checkpoint fills the backbone.
    """

    def __init__(self,
                 in_channels: int,
                 num_segments: Optional[int] = None,
                 reduced_channels: int = 64,
                 max_displacement: int = 7,
                 dilation: int = 1,
                 sigma: float = 5.0,
                 temperature: float = 100.0,
                 use_displacement: bool = True,
                 use_confidence: bool = True,
                 transform_channels: Sequence[int] = (16, 32, 64),
                 transform_kernels: Sequence[int] = (7, 3, 3, 3),
                 implementation: str = 'auto',
                 output_scale: float = 1.0,
                 transform_bias: float = 0.0,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=copy.deepcopy(RELEASED_INIT) if init_cfg is None else init_cfg)
        if num_segments is not None and num_segments < 2:
            raise ValueError(f'MotionSqueeze pairs neighbouring frames: num_segments must be >= 2, '
                             f'got {num_segments}')
        if not (use_displacement or use_confidence):
            raise ValueError('MotionSqueeze needs use_displacement or use_confidence')
        check_implementation(implementation)
        if len(transform_kernels) != len(transform_channels) + 1:
            raise ValueError('transform_kernels needs one entry more than transform_channels, got '
                             f'{tuple(transform_kernels)} and {tuple(transform_channels)}')
        self.in_channels = in_channels
        self.num_segments = num_segments
        self.max_displacement = max_displacement
        self.dilation = dilation
        self.sigma = sigma
        self.temperature = temperature
        self.use_displacement = use_displacement
        self.use_confidence = use_confidence
        self.implementation = implementation
        self.output_scale = output_scale
        self.transform_bias = transform_bias
        self.reduction = nn.Sequential(*_conv_bn_relu(in_channels, reduced_channels))
        widths = [2 * use_displacement + use_confidence, *transform_channels, in_channels]
        blocks = len(transform_kernels)
        # The last block's ReLU is applied with the residual addition (``add_rectified``).
        self.transform = nn.Sequential(*(
            _separable_block(c_in, c_out, k, last_relu=b < blocks - 1)
            for b, (c_in, c_out, k) in enumerate(zip(widths[:-1], widths[1:], transform_kernels))))
        self._deferred_checks: Optional[List[Tuple[Tensor, int]]] = None

    def init_weights(self) -> None:
        """Initialise by ``init_cfg``, then the transformation's BatchNorms: the last one's weight
        to ``output_scale``, the biases of those before a ReLU to ``transform_bias``."""
        super().init_weights()
        norms = [m for m in self.transform.modules() if isinstance(m, nn.BatchNorm2d)]
        for norm in norms[:-1]:
            nn.init.constant_(norm.bias, self.transform_bias)
        nn.init.constant_(norms[-1].weight, self.output_scale)

    def forward(self, x: Tensor, return_maps: bool = False) -> Union[Tensor, Tuple[Tensor, MotionMaps]]:
        """Add motion features to ``x``.

        Args:
            x (Tensor): Shape (N * T, C, H, W).
            return_maps (bool): Also return the estimated :class:`MotionMaps`. Defaults to False.

        Returns:
            Tensor or tuple[Tensor, MotionMaps]: (N * T, C, H, W), and the maps if asked for.
        """
        maps = self.estimate(x)
        features = torch.cat(self._selected(maps), dim=2)  # (N, T - 1, c, H, W)
        features = torch.cat((features, features[:, -1:]), dim=1).flatten(0, 1).to(x.dtype)
        if (features.device.type == 'cpu' and features.dtype == torch.bfloat16
                and not torch.is_grad_enabled()):
            # Inference in bfloat16 (a network under CPU autocast): oneDNN runs the
            # transformation's convolutions channels-last without its layout reorders. Training
            # stays NCHW because the backward pass is slower channels-last, and float32 because
            # adding a channels-last result to NCHW ``x`` costs what the convolutions gain.
            features = features.contiguous(memory_format=torch.channels_last)
        out = add_rectified(x, self.transform(features))
        return (out, maps) if return_maps else out

    def estimate(self, x: Tensor) -> MotionMaps:
        """Displacement and confidence for each pair of neighbouring frames of ``x`` (N * T, C, H, W)."""
        t = self._check_input(x)
        reduced = self.reduction(x).contiguous(memory_format=torch.channels_last).float()
        squares = reduced.pow(2).sum(1, keepdim=True)  # (N * T, 1, H, W)
        self._check_finite(squares, t)
        reduced = reduced * torch.rsqrt(squares + 1e-6)
        _, c, h, w = reduced.shape
        clips = reduced.view(-1, t, c, h, w)
        first = clips[:, :-1].flatten(0, 1)
        second = clips[:, 1:].flatten(0, 1)
        correlation = local_correlation(first, second, self.max_displacement, self.dilation,
                                        implementation=self.implementation)
        displacement, confidence = kernel_soft_argmax(correlation, self.max_displacement,
                                                      self.sigma, self.temperature,
                                                      implementation=self.implementation)
        return MotionMaps(displacement.view(-1, t - 1, 2, h, w), confidence.view(-1, t - 1, 1, h, w))

    def _selected(self, maps: MotionMaps) -> List[Tensor]:
        chosen = [maps.displacement] if self.use_displacement else []
        return chosen + ([maps.confidence] if self.use_confidence else [])

    def _check_input(self, x: Tensor) -> int:
        if self.num_segments is None:
            raise RuntimeError('MotionSqueeze.num_segments is unset; pass it in the config or insert '
                               'the module with MSNet, which takes it from the backbone')
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'MotionSqueeze expects (N * T, {self.in_channels}, H, W) features, '
                             f'got {tuple(x.shape)}')
        if min(x.shape[-2:]) < 2:
            raise ValueError(f'MotionSqueeze needs feature maps of at least 2x2 to correlate '
                             f'neighbouring positions, got {x.shape[-2]}x{x.shape[-1]}: the input '
                             'frames are too small for a module at this depth; use larger frames '
                             'or insert the module after an earlier stage')
        if x.shape[0] % self.num_segments:
            raise ValueError(f'MotionSqueeze got {x.shape[0]} frames, not a multiple of '
                             f'num_segments={self.num_segments}: inputs must hold whole clips')
        return self.num_segments

    @contextmanager
    def deferred_finite_checks(self) -> Iterator[None]:
        """Check that the inputs were finite when the block ends instead of in each forward pass.

        The check reads a flag back from the device. On CUDA, reading it in the middle of the
        network empties the GPU's queue of work, and the rest of the network then waits on its
        kernel launches.
        ``MSNet`` runs its forward pass in this block. Where the block raises, nothing is
        checked; a block inside another leaves the checks to the outer one.
        """
        if self._deferred_checks is not None:
            yield
            return
        self._deferred_checks = []
        try:
            yield
            pending = self._deferred_checks
        finally:
            self._deferred_checks = None
        for bad, num_segments in pending:
            _raise_if_nonfinite(bad, num_segments)

    def _check_finite(self, squares: Tensor, num_segments: int) -> None:
        """``squares``: the (N * T, 1, H, W) squared norms of the features to correlate, which are
        finite where all their channels are (and do not overflow), at 1/C of the cost to check."""
        if torch.compiler.is_compiling() or torch.jit.is_tracing():
            return
        bad = ~torch.isfinite(squares).flatten(1).all(dim=1)
        if self._deferred_checks is not None:
            self._deferred_checks.append((bad, num_segments))
        else:
            _raise_if_nonfinite(bad, num_segments)


def _raise_if_nonfinite(bad: Tensor, num_segments: int) -> None:
    """Raise if any frame of ``bad`` (N * T,), True for frames with non-finite features, is set."""
    if bool(bad.any()):
        frame = int(bad.nonzero()[0, 0])
        raise FloatingPointError(
            f'MotionSqueeze: non-finite values (NaN/Inf) in the correlation input at clip '
            f'{frame // num_segments}, frame {frame % num_segments}; check the input video and '
            'the loss scale')
