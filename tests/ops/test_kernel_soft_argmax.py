"""Kernel soft-argmax: values and gradients against the formula through each code path (the
operator with its compiled CPU forward kernel, the operator without hand-written kernels, the
plain reference), the subnormal guard, and the compiled kernel's agreement with float64, use and
determinism."""
import pytest
import torch
import torch.nn.functional as F
from helpers import correlation_volume, soft_argmax_formula, values_and_grads

from msnet_mmaction.ops import (CPU_KERNEL, KERNELS_ENV, REFERENCE, cpu_library, kernel_soft_argmax,
                                kernel_soft_argmax_path)

KERNEL = 'msnet_kernel_soft_argmax_forward_f32'


def compiled_forward(volume, d):
    """The operator's forward, which runs the compiled CPU kernel for a float32 CPU volume."""
    assert kernel_soft_argmax_path(volume).kernel == CPU_KERNEL
    return torch.ops.msnet_mmaction.kernel_soft_argmax(volume, d, 5.0, 100.0)


def test_matches_the_formula_position_by_position(implementation):
    torch.manual_seed(3)
    d, p = 2, 5
    corr = torch.randn(2, p * p, 4, 3)
    corr[1, :, 0, 0] = -1  # nothing positive: confidence 0, uniform weights
    with torch.no_grad():
        u_v, conf = kernel_soft_argmax(corr, d, sigma=1.5, temperature=7.0,
                                       implementation=implementation)
    for n in range(2):
        for y in range(4):
            for x in range(3):
                s = F.relu(corr[n, :, y, x]).view(p, p)
                k = int(torch.argmax(s))
                i0, j0 = divmod(k, p)
                ii, jj = torch.meshgrid(torch.arange(p), torch.arange(p), indexing='ij')
                g = torch.exp(-((jj - j0)**2 + (ii - i0)**2) / (2 * 1.5**2))
                w = torch.softmax((7.0 * s * g).flatten(), 0).view(p, p)
                assert u_v[n, 0, y, x] == pytest.approx(float((w * (jj - d)).sum() / d), abs=1e-5)
                assert u_v[n, 1, y, x] == pytest.approx(float((w * (ii - d)).sum() / d), abs=1e-5)
                assert conf[n, 0, y, x] == pytest.approx(float(s.max()))


@pytest.mark.parametrize('d', [0, 1, 2, 7])
def test_values_and_gradients_match_the_formula(d, implementation):
    """float32 and float64 volumes, random ones and correlation-like ones, with a row that has
    nothing positive (confidence 0 without a gradient, uniform weights)."""
    torch.manual_seed(4)
    p = 2 * d + 1
    for volume in (torch.randn(2, p * p, 4, 3), correlation_volume(2, 16, 5, 6, d)):
        volume[0, :, 0, 0] = -1
        expected = values_and_grads(lambda v: soft_argmax_formula(v, d, 1.5, 7.0),
                                    volume.double())
        for dtype, tolerance in ((torch.float64, 1e-10), (torch.float32, 1e-5)):
            got = values_and_grads(lambda v: kernel_soft_argmax(
                v, d, 1.5, 7.0, implementation=implementation), volume.to(dtype))
            assert got[0].dtype == dtype
            for value, want in zip(got, expected):
                torch.testing.assert_close(value.double(), want, atol=tolerance, rtol=tolerance)


def test_gradcheck(implementation):
    torch.manual_seed(5)
    volume = torch.randn(2, 25, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda v: kernel_soft_argmax(v, 2, 1.5, 7.0, implementation=implementation), (volume, ))


def test_confident_peak_stays_out_of_subnormals(implementation):
    """A correlation near 1 among ReLU'd zeros puts the other logits about 95 below the peak at
    temperature 100. Their weights, e**-95, would be float32 subnormals, on which x86 CPUs compute
    about 100x slower; the outputs and gradients must match float64 without producing any."""
    d, p = 7, 15
    corr = torch.zeros(2, p * p, 3, 4, dtype=torch.float64)
    corr[0, 40], corr[1, 200], corr[1, 30] = 0.95, 0.97, 0.2
    corr[1, :, 0, 0] = 0  # no peak at all: confidence 0 without a gradient, uniform weights
    u_v, _, grad = values_and_grads(
        lambda v: kernel_soft_argmax(v, d, implementation=implementation), corr.float())
    expected_u_v, _, expected_grad = values_and_grads(lambda v: soft_argmax_formula(v, d), corr)
    tiny = torch.finfo(torch.float32).tiny
    for tensor in (u_v, grad):
        assert not ((tensor != 0) & (tensor.abs() < tiny)).any()
    torch.testing.assert_close(u_v.double(), expected_u_v, atol=1e-6, rtol=0)
    torch.testing.assert_close(grad.double(), expected_grad, atol=1e-6, rtol=0)


def test_half_precision_and_autocast_compute_in_float32(implementation):
    volume = correlation_volume(2, 16, 5, 6, 2)
    expected = soft_argmax_formula(volume.double(), 2)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        under_autocast = kernel_soft_argmax(volume, 2, implementation=implementation)
    for u_v, confidence in (under_autocast,
                            kernel_soft_argmax(volume.half(), 2, implementation=implementation)):
        assert u_v.dtype == confidence.dtype == torch.float32
        torch.testing.assert_close(u_v.double(), expected[0], atol=5e-3, rtol=0)


@pytest.mark.parametrize('d', [0, 1, 7, 9])
def test_compiled_kernel_matches_float64_as_closely_as_the_reference(d):
    """Over correlation volumes and random ones, rows of P offsets shorter than a vector and (d = 9,
    P = 19) longer than one. Ties at the maximum must pick the first, as ``argmax`` does."""
    p = 2 * d + 1
    volumes = [correlation_volume(3, 16, 9, 11, d), torch.randn(2, p * p, 5, 6)]
    tied = torch.rand(1, p * p, 2, 3) * 0.5
    tied[0, [p * p - 1, 0], 0, 0] = 0.75  # the far corner and the first offset
    tied[0, [p * p // 2, p - 1], 1, 2] = 0.75
    volumes.append(tied)
    for volume in volumes:
        expected_u_v, expected_confidence = soft_argmax_formula(volume.double(), d)
        u_v, confidence = compiled_forward(volume, d)
        reference_u_v, _ = kernel_soft_argmax(volume, d, implementation='reference')
        error = float((u_v.double() - expected_u_v).abs().max())
        assert error <= max(2 * float((reference_u_v.double() - expected_u_v).abs().max()), 1e-7)
        assert error < 1e-6
        assert torch.equal(confidence.double(), expected_confidence)


def test_compiled_kernel_runs_for_cpu_float32_volumes(monkeypatch):
    """In training and inference; not for float64 volumes, the reference, or with the kernels
    switched off."""
    assert cpu_library.cpu_library() is not None, 'no compiled kernels here; CI needs a C++ compiler'
    calls = []
    call = cpu_library.CpuLibrary.call
    monkeypatch.setattr(cpu_library.CpuLibrary, 'call',
                        lambda self, name, *args: calls.append((name, args[3:6]))
                        or call(self, name, *args))
    volume = torch.randn(2, 49, 4, 5)
    with torch.no_grad():
        kernel_soft_argmax(volume, 3)
    u_v, _ = kernel_soft_argmax(volume.requires_grad_(), 3)
    u_v.sum().backward()
    assert calls == [(KERNEL, (2, 4, 5))] * 2
    backward = kernel_soft_argmax_path(volume, backward=True)
    assert backward.kernel == REFERENCE and 'recomputes the weights' in backward.reason
    assert kernel_soft_argmax_path(volume.double()).kernel == REFERENCE
    kernel_soft_argmax(volume.double(), 3)
    kernel_soft_argmax(volume, 3, implementation='reference')
    monkeypatch.setenv(KERNELS_ENV, '0')
    kernel_soft_argmax(volume, 3)
    assert len(calls) == 2, 'the kernel ran for float64, the reference or with the kernels off'
    with pytest.raises(ValueError, match='positive'):
        kernel_soft_argmax(volume, 3, sigma=0.0)
    with pytest.raises(ValueError, match='expected 49 for max_displacement=3'):
        kernel_soft_argmax(volume[:, :25], 3)
    with pytest.raises(ValueError, match=r"implementation must be one of \('auto', 'reference'\)"):
        kernel_soft_argmax(volume, 3, implementation='cuda')


def test_compiled_kernel_does_not_depend_on_the_number_of_threads():
    volume = correlation_volume(5, 16, 7, 9, 7)
    threads = torch.get_num_threads()
    runs = []
    try:
        for count in (1, 3):
            torch.set_num_threads(count)
            runs.append(compiled_forward(volume, 7))
    finally:
        torch.set_num_threads(threads)
    for first, other in zip(*runs):
        assert torch.equal(first, other)
