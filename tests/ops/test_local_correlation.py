"""local_correlation against an explicit loop, and its gradients, through each code path: the
operator with its compiled CPU kernel (dilation 1; tests/ops/test_cpu_library.py checks that it is the
one running), the operator with the hand-written kernels switched off (the reference and its
hand-written backward inside the operator), and the plain reference with autograd's gradient."""
import pytest
import torch
from helpers import reference_correlation

from msnet_mmaction.ops import local_correlation


@pytest.mark.parametrize('shape, d, s', [((2, 5, 9, 11), 3, 1), ((1, 4, 7, 6), 2, 2),
                                         ((2, 3, 3, 4), 7, 1), ((1, 2, 5, 8), 1, 3),
                                         ((1, 3, 6, 5), 0, 1), ((1, 19, 4, 21), 9, 1)])
def test_matches_explicit_loop(shape, d, s, implementation):
    torch.manual_seed(0)
    a, b = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
    out = local_correlation(a, b, d, s, implementation=implementation)
    assert out.shape == (shape[0], (2 * d + 1)**2, shape[2], shape[3])
    torch.testing.assert_close(out, reference_correlation(a, b, d, s))


@pytest.mark.parametrize('d, s', [(2, 1), (1, 2)])
def test_gradcheck(d, s, implementation):
    torch.manual_seed(1)
    a = torch.randn(2, 3, 5, 6, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 3, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, y: local_correlation(x, y, d, s, implementation=implementation), (a, b))


def test_gradient_of_one_input_only(implementation):
    a = torch.randn(1, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, 3, 6, 6, dtype=torch.float64)
    local_correlation(a, b, 2, implementation=implementation).sum().backward()
    reference = a.detach().clone().requires_grad_()
    reference_correlation(reference, b, 2, 1).sum().backward()
    torch.testing.assert_close(a.grad, reference.grad)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_matches_float32(dtype, implementation):
    torch.manual_seed(2)
    a, b = torch.randn(2, 16, 9, 9), torch.randn(2, 16, 9, 9)
    a, b = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    low = local_correlation(a.to(dtype), b.to(dtype), 3, implementation=implementation)
    assert low.dtype == dtype
    torch.testing.assert_close(low.float(), reference_correlation(a, b, 3, 1), atol=2e-2, rtol=0)


def test_autocast_computes_in_float32(implementation):
    torch.manual_seed(3)
    a, b = torch.randn(2, 16, 7, 8), torch.randn(2, 16, 7, 8)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = local_correlation(a, b, 2, implementation=implementation)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, reference_correlation(a, b, 2, 1), atol=1e-5, rtol=1e-5)


def test_output_is_channels_last_and_accepts_channels_last_input(implementation):
    a = torch.randn(2, 8, 10, 12).contiguous(memory_format=torch.channels_last)
    b = torch.randn(2, 8, 10, 12).contiguous(memory_format=torch.channels_last)
    out = local_correlation(a, b, 2, implementation=implementation)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, local_correlation(a.contiguous(), b.contiguous(), 2,
                                                      implementation=implementation))


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match='one shape'):
        local_correlation(torch.randn(1, 2, 3, 3), torch.randn(1, 2, 3, 4))
    with pytest.raises(ValueError, match='dilation'):
        local_correlation(torch.randn(1, 2, 3, 3), torch.randn(1, 2, 3, 3), 2, 0)
    with pytest.raises(ValueError, match=r"implementation must be one of \('auto', 'reference'\)"):
        local_correlation(torch.randn(1, 2, 3, 3), torch.randn(1, 2, 3, 3), implementation='cuda')
    with pytest.raises(TypeError, match='one dtype and device'):
        local_correlation(torch.randn(1, 2, 3, 3), torch.randn(1, 2, 3, 3, dtype=torch.float64))
