import pytest
import torch

from msnet_mmaction.models import MotionSqueeze
from msnet_mmaction.ops import add_rectified


def saved_tensors(fn):
    """What autograd keeps for the backward pass while ``fn()`` runs, and its result."""
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        result = fn()
    return saved, result


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16, torch.float64])
@pytest.mark.parametrize('x_shape', [(2, 6, 4, 5), (6, 1, 1)])
def test_same_bits_as_the_two_ops(dtype, x_shape):
    """Values and both gradients against ``x + relu(z)`` through autograd, with exact zeros in ``z``
    (no gradient there), a channels-last ``z`` and a broadcast ``x``."""
    torch.manual_seed(0)
    z = torch.randn(2, 6, 4, 5, dtype=dtype).contiguous(memory_format=torch.channels_last)
    z[0, :, 0] = 0
    x = torch.randn(x_shape, dtype=dtype)
    probe = torch.randn(2, 6, 4, 5, dtype=dtype)
    results = []
    for op in (add_rectified, lambda a, b: a + torch.relu(b)):
        xs, zs = x.clone().requires_grad_(), z.clone().requires_grad_()
        out = op(xs, zs)
        out.backward(probe)
        results.append((out, xs.grad, zs.grad))
    for got, expected in zip(*results):
        assert got.dtype == expected.dtype and torch.equal(got, expected)
    assert torch.equal(results[0][2][0, :, 0], torch.zeros(6, 5, dtype=dtype))


def test_keeps_only_a_boolean_mask():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    z = torch.randn(2, 3, 4, 4, requires_grad=True)
    saved, out = saved_tensors(lambda: add_rectified(x, z))
    assert type(out.grad_fn).__name__ == '_AddRectifiedBackward'
    assert len(saved) == 1 and saved[0].dtype == torch.bool
    assert torch.equal(saved[0], z > 0)
    saved, out = saved_tensors(lambda: x + torch.relu(z))
    assert [t.dtype for t in saved] == [torch.float32]  # the ReLU's output


def test_plain_ops_where_no_gradient_is_recorded():
    x, z = torch.randn(2, 3), torch.randn(2, 3, requires_grad=True)
    with torch.no_grad():
        out = add_rectified(x, z)
    assert out.grad_fn is None and torch.equal(out, x + torch.relu(z))
    assert add_rectified(x, z.detach()).grad_fn is None
    traced = torch.jit.trace(add_rectified, (x, z.detach()))
    assert torch.equal(traced(x, z.detach()), x + torch.relu(z))


@pytest.mark.parametrize('amp', [False, True])
def test_motion_squeeze_keeps_no_rectified_copy_of_its_output(amp):
    """Training keeps, in the output's shape, only the last batch norm's input and a one-byte mask
    (the ReLU's output, 2-4 bytes per element, is no longer kept)."""
    module = MotionSqueeze(in_channels=40, num_segments=4, max_displacement=2).train()
    expected = torch.bfloat16 if amp else torch.float32
    # Under autocast the backbone hands over bfloat16 features.
    x = torch.randn(8, 40, 6, 6, dtype=expected, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp):
        saved, out = saved_tensors(lambda: module(x))
    kept = {t.untyped_storage().data_ptr(): t.dtype for t in saved
            if t.shape == out.shape and t.data_ptr() != x.data_ptr()}
    assert sorted(map(str, kept.values())) == sorted(map(str, [torch.bool, expected]))
    out.float().sum().backward()
    assert all(p.grad is not None for p in module.transform[-1].parameters())
