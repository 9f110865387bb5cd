"""MotionSqueeze: known motion, the released sizes, temporal pairing and input checks (the soft-argmax op
has its own tests in tests/ops/test_kernel_soft_argmax.py)."""
import re

import pytest
import torch
from helpers import REPO

from msnet_mmaction.models import MotionSqueeze


def identity_module(channels: int, num_segments: int, d: int = 3) -> MotionSqueeze:
    """A module whose reduction passes non-negative features through unchanged (eval mode)."""
    module = MotionSqueeze(in_channels=channels, reduced_channels=channels, num_segments=num_segments,
                           max_displacement=d).eval()
    with torch.no_grad():
        module.reduction[0].weight.copy_(torch.eye(channels)[:, :, None, None])
        bn = module.reduction[1]
        bn.weight.fill_(1), bn.bias.zero_(), bn.running_mean.zero_(), bn.running_var.fill_(1 - bn.eps)
    return module


def shifted_clip(dx: int, dy: int, frames: int = 3, size: int = 24, channels: int = 32):
    """Frames where frame t + 1 is frame t translated by (dx, dy) pixels (right, down)."""
    torch.manual_seed(0)
    base = torch.rand(channels, size + 2 * frames * 8, size + 2 * frames * 8)
    c0 = frames * 8
    clip = [base[:, c0 - t * dy:c0 - t * dy + size, c0 - t * dx:c0 - t * dx + size] for t in range(frames)]
    return torch.stack(clip)


@pytest.mark.parametrize('dx, dy', [(2, 0), (0, -3), (-1, 2), (3, 3), (0, 0)])
def test_known_translation_gives_displacement(dx, dy):
    d = 3
    module = identity_module(32, num_segments=3, d=d)
    with torch.no_grad():
        maps = module.estimate(shifted_clip(dx, dy))
    interior = (slice(None), slice(None), slice(d, -d), slice(d, -d))
    u, v = maps.displacement[:, :, 0][interior], maps.displacement[:, :, 1][interior]
    assert torch.allclose(u, torch.full_like(u, dx / d), atol=0.05)
    assert torch.allclose(v, torch.full_like(v, dy / d), atol=0.05)
    assert maps.confidence[:, :, 0][interior].min() > 0.99


def _official_parameter_counts():
    counts = {}
    with open(f'{REPO}/tests/data/official_msnet_r50_state_dict.txt') as f:
        for line in f:
            if line.startswith('#'):
                continue
            name, shape = line.rstrip('\n').split('\t')
            if name.endswith(('weight', 'bias')):
                numel = 1
                for size in re.findall(r'\d+', shape):
                    numel *= int(size)
                counts[name] = numel
    return counts


def test_parameter_count_matches_released_module():
    counts = _official_parameter_counts()
    released_module = sum(v for k, v in counts.items() if k.startswith(('chnl_reduction', 'flow_refinement')))
    unused_bn2 = sum(v for k, v in counts.items() if k.startswith('bn2.'))
    ours = sum(p.numel() for p in MotionSqueeze(in_channels=512, num_segments=8).parameters())
    assert ours == released_module == 70905
    # 71,161 with the released backbone's unused 128-channel `bn2`.
    assert ours + unused_bn2 == 71161


@pytest.mark.parametrize('scale', [1.0, 4.0])
def test_output_scale_sets_the_initial_size_of_the_motion_features(scale):
    """The motion features added to the stream in training mode are ReLU(BN(.)) of the last
    pointwise conv, normalised per channel, so their size at the start is ``output_scale`` times
    that of the default start; the other layers start as the released code's."""
    torch.manual_seed(0)
    x = torch.randn(16, 8, 12, 12)
    added = {}
    for s in (1.0, scale):
        torch.manual_seed(1)
        module = MotionSqueeze(in_channels=8, num_segments=4, output_scale=s)
        module.init_weights()
        assert torch.all(module.transform[-1][-1].weight == s)
        assert torch.all(module.transform[0][1].weight == 1)
        added[s] = module(x) - x
    torch.testing.assert_close(added[scale], scale * added[1.0], rtol=1e-4, atol=1e-5)


def test_transform_bias_keeps_the_sign_of_the_motion_at_the_start():
    """The hidden BatchNorms start at bias ``transform_bias`` (the last keeps bias 0 and weight
    ``output_scale``). The first block filters u, v and the confidence channel by channel; in
    training mode its BatchNorm standardises each channel, so at a bias well above the
    standardised values its ReLU cuts nothing and the opposite motion gives features mirrored
    about the bias. At the released bias 0 the ReLU keeps one sign of each channel only."""
    torch.manual_seed(0)
    motion = 0.3 * torch.randn(4, 3, 10, 10)
    for bias, mirrored in ((10.0, True), (0.0, False)):
        torch.manual_seed(1)
        module = MotionSqueeze(in_channels=8, num_segments=4, output_scale=2.0,
                               transform_bias=bias)
        module.init_weights()
        norms = [m for m in module.transform.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert len(norms) == 8
        assert all(torch.all(n.bias == bias) for n in norms[:-1])
        assert torch.all(norms[-1].bias == 0) and torch.all(norms[-1].weight == 2.0)
        first_relu = module.transform[0][:3]
        with torch.no_grad():
            both = first_relu(motion) + first_relu(-motion)
        assert torch.allclose(both, torch.full_like(both, 2 * bias), atol=1e-4) == mirrored


def test_last_frame_reuses_last_pair_and_output_is_residual():
    module = MotionSqueeze(in_channels=16, num_segments=4, max_displacement=2).eval()
    captured = {}
    module.transform.register_forward_hook(lambda m, i, o: captured.update(inp=i[0], out=o))
    x = torch.randn(8, 16, 10, 10)
    with torch.no_grad():
        out, maps = module(x, return_maps=True)
    features = captured['inp'].view(2, 4, 3, 10, 10)
    torch.testing.assert_close(features[:, 3], features[:, 2])
    torch.testing.assert_close(features[:, :3, :2], maps.displacement)
    torch.testing.assert_close(features[:, :3, 2:], maps.confidence)
    # The last block's ReLU is applied with the residual addition.
    assert (captured['out'] < 0).any()
    torch.testing.assert_close(out, x + torch.relu(captured['out']))


def test_clips_do_not_mix():
    module = MotionSqueeze(in_channels=8, num_segments=3, max_displacement=2).eval()
    x = torch.randn(6, 8, 9, 9)
    with torch.no_grad():
        together = module(x)
        apart = torch.cat([module(x[:3]), module(x[3:])])
    torch.testing.assert_close(together, apart)


@pytest.mark.parametrize('use_displacement, use_confidence, channels', [(True, False, 2), (False, True, 1)])
def test_input_selection(use_displacement, use_confidence, channels):
    module = MotionSqueeze(in_channels=8, num_segments=2, use_displacement=use_displacement,
                           use_confidence=use_confidence)
    assert module.transform[0][0].in_channels == channels
    assert module(torch.randn(4, 8, 6, 6)).shape == (4, 8, 6, 6)


def test_input_errors():
    with pytest.raises(ValueError, match='num_segments must be >= 2'):
        MotionSqueeze(in_channels=8, num_segments=1)
    module = MotionSqueeze(in_channels=8, num_segments=4)
    with pytest.raises(ValueError, match='not a multiple of num_segments=4'):
        module(torch.randn(6, 8, 5, 5))
    with pytest.raises(ValueError, match=r'expects \(N \* T, 8, H, W\)'):
        module(torch.randn(4, 9, 5, 5))
    x = torch.randn(8, 8, 5, 5)
    x[5, 2, 1, 1] = float('nan')
    with pytest.raises(FloatingPointError, match='clip 1, frame 1'):
        module.eval()(x)


def test_deferred_finite_checks_raise_when_the_block_ends():
    module = MotionSqueeze(in_channels=8, num_segments=4).eval()
    x = torch.randn(8, 8, 5, 5)
    x[6, 0, 2, 2] = float('inf')
    finished = []
    with pytest.raises(FloatingPointError, match='clip 1, frame 2'):
        with module.deferred_finite_checks():
            module(torch.randn(4, 8, 5, 5))
            out = module(x)
            finished.append(out.shape)
    assert finished == [x.shape]  # the forward pass itself went through
    with pytest.raises(FloatingPointError):  # an inner block leaves the check to the outer one
        with module.deferred_finite_checks():
            with module.deferred_finite_checks():
                module(x)
            finished.append('inner block ended')
    assert finished[-1] == 'inner block ended'
    with pytest.raises(KeyError):  # an error inside the block wins; nothing is checked after it
        with module.deferred_finite_checks():
            module(x)
            raise KeyError('elsewhere')
    module(torch.randn(4, 8, 5, 5))  # outside a block: checked at once again
    with pytest.raises(FloatingPointError):
        module(x)


def test_bf16_autocast_is_finite_and_trains():
    module = MotionSqueeze(in_channels=16, num_segments=3, max_displacement=2)
    x = torch.randn(6, 16, 8, 8, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = module(x)
    out.float().square().mean().backward()
    assert torch.isfinite(out.float()).all() and torch.isfinite(x.grad).all()
    assert module.reduction[0].weight.grad is not None


@pytest.mark.parametrize('amp, grad', [(False, False), (True, False), (True, True)])
def test_transformation_runs_channels_last_only_for_bfloat16_inference(amp, grad):
    """The layout choice of ``MotionSqueeze.forward``: channels-last convolutions for bfloat16
    features (those of a network under CPU autocast) without autograd, NCHW otherwise, and an
    output laid out like the input either way."""
    module = MotionSqueeze(in_channels=16, num_segments=3, max_displacement=2).eval()
    seen = []
    module.transform[0][0].register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    x = torch.randn(6, 16, 8, 8, dtype=torch.bfloat16 if amp else torch.float32)
    with torch.set_grad_enabled(grad), torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp):
        out = module(x)
    channels_last = amp and not grad
    assert seen[0].dtype == x.dtype
    assert seen[0].is_contiguous(memory_format=torch.channels_last) == channels_last
    assert seen[0].is_contiguous() != channels_last
    assert out.is_contiguous() and out.shape == x.shape
