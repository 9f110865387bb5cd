"""The Triton kernels (the CUDA paths) against the formulas: on a GPU where there is one, else in
Triton's interpreter on the CPU (tests/conftest.py sets ``TRITON_INTERPRET=1``). Skipped without
Triton."""
import inspect
import sys

import pytest
import torch
from conftest import run
from test_correlation import reference_correlation
from test_soft_argmax import correlation_volume, direct, values_and_grad

from msnet_mmaction.ops import kernel_soft_argmax, local_correlation

triton = pytest.importorskip('triton')
DEVICE = 'cuda' if torch.cuda.is_available() else 'cpu'


def triton_correlation(a, b, d, s=1):
    return local_correlation(a.to(DEVICE), b.to(DEVICE), d, s, implementation='triton')


@pytest.mark.parametrize('shape, d, s', [((2, 5, 4, 6), 2, 1), ((1, 3, 5, 4), 1, 2),
                                         ((1, 2, 3, 2), 3, 1), ((1, 3, 2, 3), 0, 1)])
def test_correlation_values_and_gradients_match_the_formula(shape, d, s):
    """Offsets beyond the map (d = 3 on 3x2), a dilation, and d = 0."""
    torch.manual_seed(0)
    a, b = (torch.randn(shape, dtype=torch.float64) for _ in range(2))
    probe = torch.randn(shape[0], (2 * d + 1)**2, *shape[2:], dtype=torch.float64)
    x, y = (t.float().requires_grad_() for t in (a, b))
    out = triton_correlation(x, y, d, s)
    assert type(out.grad_fn).__name__ == 'TritonCorrelationBackward'
    grads = torch.autograd.grad((out * probe.to(out)).sum(), (x, y))
    cpu = [t.clone().requires_grad_() for t in (a, b)]
    expected = reference_correlation(*cpu, d, s)
    expected_grads = torch.autograd.grad((expected * probe).sum(), cpu)
    torch.testing.assert_close(out.double().cpu(), expected, atol=1e-5, rtol=1e-5)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got.double().cpu(), want, atol=1e-5, rtol=1e-5)


def test_correlation_takes_strided_inputs_and_half_precision():
    torch.manual_seed(1)
    a, b = (torch.randn(2, 6, 5, 4).contiguous(memory_format=torch.channels_last)
            for _ in range(2))
    expected = reference_correlation(a.double(), b.double(), 2, 1)
    torch.testing.assert_close(triton_correlation(a, b, 2).double().cpu(), expected, atol=1e-5,
                               rtol=1e-5)
    crop_a, crop_b = a[..., 1:], b[..., :-1]  # non-contiguous views
    torch.testing.assert_close(triton_correlation(crop_a, crop_b, 1).double().cpu(),
                               reference_correlation(crop_a.double(), crop_b.double(), 1, 1),
                               atol=1e-5, rtol=1e-5)
    half = triton_correlation(a.half(), b.half(), 2)
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.double().cpu(), expected, atol=2e-2, rtol=1e-2)


def test_gradient_of_one_input_only():
    torch.manual_seed(2)
    a = torch.randn(1, 3, 4, 5, requires_grad=True)
    b = torch.randn(1, 3, 4, 5)
    triton_correlation(a, b, 1).sum().backward()
    reference = a.detach().double().requires_grad_()
    reference_correlation(reference, b.double(), 1, 1).sum().backward()
    torch.testing.assert_close(a.grad.double(), reference.grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('d', [0, 1, 7])
def test_soft_argmax_values_and_gradients_match_float64(d):
    """Correlation volumes, random ones, ties at the maximum (the first wins, as in ``argmax``) and
    a row with nothing positive (confidence 0 without a gradient, uniform weights)."""
    p = 2 * d + 1
    tied = torch.rand(1, p * p, 2, 3) * 0.5
    tied[0, [p * p - 1, 0], 0, 0] = 0.75
    tied[0, :, 1, 2] = -0.25
    for volume in (correlation_volume(2, 16, 3, 4, d), torch.randn(1, p * p, 2, 3), tied):
        got = values_and_grad(lambda v: [t.cpu() for t in kernel_soft_argmax(
            v.to(DEVICE), d, implementation='triton')], volume)
        with torch.no_grad():
            inference = kernel_soft_argmax(volume.to(DEVICE), d, implementation='triton')
        expected = values_and_grad(lambda v: direct(v, d), volume.double())
        for values in (got[:2], inference):
            torch.testing.assert_close(values[0].double().cpu(), expected[0], atol=1e-6, rtol=0)
            assert torch.equal(values[1].double().cpu(), expected[1])
        torch.testing.assert_close(got[2].double(), expected[2], atol=1e-5, rtol=1e-4)


def test_soft_argmax_keeps_only_the_volume_for_backward():
    volume = correlation_volume(1, 8, 3, 4, 2).to(DEVICE).requires_grad_()
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.shape) or t,
                                                  lambda t: t):
        u_v, _ = kernel_soft_argmax(volume, 2, implementation='triton')
    assert type(u_v.grad_fn).__name__ == 'TritonSoftArgmaxBackward'
    assert saved == [(1, 3, 4, 25)]


def test_triton_is_refused_where_it_cannot_run(monkeypatch):
    with pytest.raises(RuntimeError, match='float32, float16 or bfloat16'):
        local_correlation(*torch.randn(2, 1, 2, 3, 3, dtype=torch.float64), 1,
                          implementation='triton')
    monkeypatch.setenv('TRITON_INTERPRET', '0')
    with pytest.raises(RuntimeError, match='needs Triton and a CUDA tensor'):
        local_correlation(*torch.randn(2, 1, 2, 3, 3), 1, implementation='triton')
    with pytest.raises(RuntimeError, match='needs Triton and a CUDA volume'):
        kernel_soft_argmax(torch.randn(1, 9, 2, 2), 1, implementation='triton')


def test_kernels_compile_for_ampere_and_hopper_gpus():
    """Each kernel variant the ops launch, compiled to machine code (sm_80, sm_90) without a GPU;
    the interpreter above runs the kernels as Python, which accepts code the compiler rejects."""
    from triton.compiler import ASTSource
    if 'constexprs' not in inspect.signature(ASTSource).parameters:
        pytest.skip(f'Triton {triton.__version__} names its compile arguments differently')
    printed = run([sys.executable, 'tests/compile_triton_kernels.py', '80', '90'],
                  env={'TRITON_INTERPRET': '0'}).stdout.splitlines()
    compiled = dict(line.rsplit(': ', 1) for line in printed)
    # The correlation: forward and both backward passes for float32, float16 and bfloat16 at 64
    # channels, and for float32 at 256 and 3 channels; the soft-argmax: forward and backward for
    # three tile shapes. Each for two architectures.
    assert len(compiled) == 2 * (3 * 5 + 2 * 3) == len(printed)
    assert all(int(size.split()[0]) > 0 for size in compiled.values())


def test_tensors_beyond_32_bit_offsets_are_left_to_the_pytorch_path():
    """The kernels compute element offsets in 32-bit integers. MSNet-R50's features (64 channels,
    28x28) with d = 7 make 176,400 volume elements per pair, so 12,174 pairs reach 2**31."""
    from msnet_mmaction.ops import correlation_triton, soft_argmax_triton
    from msnet_mmaction.ops.triton_support import int32_addressable

    def features(pairs, channels=64):
        return torch.empty(pairs, channels, 28, 28, device='meta')

    assert correlation_triton.supports(features(12173), features(12173), 7)
    assert not correlation_triton.supports(features(12174), features(12174), 7)
    # With d = 0 the inputs are the larger: 42,799 pairs of 50,176 elements are the most.
    assert correlation_triton.supports(features(42799), features(42799), 0)
    assert not correlation_triton.supports(features(42799), features(42800), 0)
    assert soft_argmax_triton.supports(torch.empty(12173, 28, 28, 225, device='meta'))
    assert not soft_argmax_triton.supports(torch.empty(12174, 28, 28, 225, device='meta'))
    # With d = 0 the (N, H, W, 2) displacement is twice the (N, H, W, 1) volume.
    assert soft_argmax_triton.supports(torch.empty(2**30 - 1, 1, 1, 1, device='meta'))
    assert not soft_argmax_triton.supports(torch.empty(2**30, 1, 1, 1, device='meta'))
    # Strides count, not sizes: a broadcast spans one element, a strided view its whole extent.
    assert int32_addressable(torch.empty(1, device='meta').expand(2**40))
    assert not int32_addressable(torch.empty(2, device='meta').as_strided((2, ), (2**31, )))
    assert int32_addressable(torch.empty(2, device='meta').as_strided((2, ), (2**31 - 1, )))
    # Forced, they refuse; the broadcast inputs allocate nothing.
    big = torch.zeros(1, 1, 1, 1).expand(12174, 64, 28, 28)
    with pytest.raises(RuntimeError, match=r'fewer than 2\*\*31 elements'):
        local_correlation(big, big, 7, implementation='triton')
    with pytest.raises(RuntimeError, match=r'fewer than 2\*\*31 elements'):
        kernel_soft_argmax(torch.zeros(1, 1, 1, 1).expand(12174, 225, 28, 28), 7,
                           implementation='triton')
