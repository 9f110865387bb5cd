"""Kernel soft-argmax: values and gradients against the formula, the subnormal guard, and the
compiled CPU kernel (inference only): its agreement with float64, dispatch and determinism."""
import pytest
import torch
import torch.nn.functional as F

from msnet_mmaction.ops import cpu_library, kernel_soft_argmax, local_correlation, soft_argmax_cpu



def direct(volume, d, sigma=5.0, temperature=100.0):
    """The formula written out plainly: displacement (N, 2, H, W) and confidence (N, 1, H, W)."""
    p = 2 * d + 1
    scores = F.relu(volume.permute(0, 2, 3, 1))
    peak = volume.permute(0, 2, 3, 1).argmax(-1, keepdim=True)  # the first arg-max of the raw scores
    ii, jj = (t.flatten() for t in torch.meshgrid(torch.arange(p), torch.arange(p), indexing='ij'))
    window = torch.exp(-((ii - peak // p)**2 + (jj - peak % p)**2) / (2 * sigma**2))
    weights = torch.softmax(temperature * scores * window, -1)
    scale = max(d, 1)
    u_v = torch.stack(((weights * (jj - d)).sum(-1), (weights * (ii - d)).sum(-1)), 1) / scale
    return u_v, scores.gather(-1, peak).permute(0, 3, 1, 2)


def values_and_grad(fn, volume, seed=0):
    """``fn(volume)``'s displacement and confidence, and the volume's gradient against seeded
    probes of both."""
    volume = volume.detach().requires_grad_()
    u_v, confidence = fn(volume)
    generator = torch.Generator().manual_seed(seed)
    probes = [torch.randn(t.shape, generator=generator, dtype=torch.float64).to(t.dtype)
              for t in (u_v, confidence)]
    grad, = torch.autograd.grad((u_v * probes[0]).sum() + (confidence * probes[1]).sum(), volume)
    return u_v.detach(), confidence.detach(), grad


def correlation_volume(n, channels, h, w, d, noise=0.3, seed=0):
    """A correlation of normalised features with a noisy copy of themselves: a peak near zero
    displacement, values in [-1, 1], as the module sees them."""
    generator = torch.Generator().manual_seed(seed)
    a = F.normalize(torch.randn(n, channels, h, w, generator=generator), dim=1)
    b = F.normalize(a + noise * torch.randn(a.shape, generator=generator), dim=1)
    return local_correlation(a, b, d)


def compiled(volume, d, sigma=5.0, temperature=100.0):
    """The compiled kernel's displacement and confidence (it runs where no gradient is needed)."""
    with torch.no_grad():
        return kernel_soft_argmax(volume, d, sigma, temperature)


@pytest.mark.parametrize('implementation', ['compiled', 'pytorch'])
def test_matches_the_formula_position_by_position(implementation):
    torch.manual_seed(3)
    d, p = 2, 5
    corr = torch.randn(2, p * p, 4, 3)
    corr[1, :, 0, 0] = -1  # nothing positive: confidence 0, uniform weights
    if implementation == 'compiled':
        u_v, conf = compiled(corr, d, sigma=1.5, temperature=7.0)
    else:
        u_v, conf = kernel_soft_argmax(corr, d, sigma=1.5, temperature=7.0,
                                       implementation='pytorch')
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


def test_gradients_match_plain_autograd():
    torch.manual_seed(4)
    corr = torch.randn(2, 25, 4, 3)
    ours = values_and_grad(lambda v: kernel_soft_argmax(v, 2, 1.5, 7.0), corr)
    expected = values_and_grad(lambda v: direct(v, 2, 1.5, 7.0), corr)
    for got, reference in zip(ours, expected):
        torch.testing.assert_close(got, reference, atol=1e-5, rtol=1e-4)


def test_confident_peak_stays_out_of_subnormals():
    """A correlation near 1 among ReLU'd zeros puts the other logits about 95 below the peak at
    temperature 100. Their weights, e**-95, would be float32 subnormals, on which x86 CPUs compute
    about 100x slower; the outputs and gradients must match float64 without producing any."""
    d, p = 7, 15
    corr = torch.zeros(2, p * p, 3, 4, dtype=torch.float64)
    corr[0, 40], corr[1, 200], corr[1, 30] = 0.95, 0.97, 0.2
    corr[1, :, 0, 0] = 0  # no peak at all: confidence 0 without a gradient, uniform weights
    u_v, _, grad = values_and_grad(lambda v: kernel_soft_argmax(v, d), corr.float())
    compiled_u_v, _ = compiled(corr.float(), d)
    expected_u_v, _, expected_grad = values_and_grad(lambda v: direct(v, d), corr)
    tiny = torch.finfo(torch.float32).tiny
    for tensor in (u_v, grad, compiled_u_v):
        assert not ((tensor != 0) & (tensor.abs() < tiny)).any()
    torch.testing.assert_close(u_v.double(), expected_u_v, atol=1e-6, rtol=0)
    torch.testing.assert_close(compiled_u_v.double(), expected_u_v, atol=1e-6, rtol=0)
    torch.testing.assert_close(grad.double(), expected_grad, atol=1e-6, rtol=0)


@pytest.mark.parametrize('d', [0, 1, 7, 9])
def test_compiled_kernel_matches_float64_as_closely_as_the_pytorch_path(d):
    """Over correlation volumes and random ones, rows of P offsets shorter than a vector and (d = 9,
    P = 19) longer than one. Ties at the maximum must pick the first, as ``argmax`` does."""
    p = 2 * d + 1
    volumes = [correlation_volume(3, 16, 9, 11, d), torch.randn(2, p * p, 5, 6)]
    tied = torch.rand(1, p * p, 2, 3) * 0.5
    tied[0, [p * p - 1, 0], 0, 0] = 0.75  # the far corner and the first offset
    tied[0, [p * p // 2, p - 1], 1, 2] = 0.75
    volumes.append(tied)
    for volume in volumes:
        expected_u_v, expected_confidence = direct(volume.double(), d)
        u_v, confidence = compiled(volume, d)
        with torch.no_grad():
            pytorch_u_v, _ = kernel_soft_argmax(volume, d, implementation='pytorch')
        error = float((u_v.double() - expected_u_v).abs().max())
        assert error <= max(2 * float((pytorch_u_v.double() - expected_u_v).abs().max()), 1e-7)
        assert error < 1e-6
        assert torch.equal(confidence.double(), expected_confidence)


def test_compiled_kernel_runs_for_cpu_float32_inference_only(monkeypatch):
    assert cpu_library.cpu_library() is not None, 'no compiled kernels here; CI needs a C++ compiler'
    calls = []
    kernel = soft_argmax_cpu.cpu_kernel()
    monkeypatch.setattr(soft_argmax_cpu, 'cpu_kernel',
                        lambda: lambda *args: calls.append(args[0].shape) or kernel(*args))
    volume = torch.randn(2, 49, 4, 5)
    compiled(volume, 3)
    assert calls == [(2, 4, 5, 49)]
    kernel_soft_argmax(volume.detach().requires_grad_(), 3)  # training: autograd's path
    with torch.no_grad():
        kernel_soft_argmax(volume, 3, implementation='pytorch')
        traced = torch.jit.trace(lambda v: kernel_soft_argmax(v, 3)[0], volume, check_trace=False)
    assert calls == [(2, 4, 5, 49)], 'the kernel ran for a gradient, a pinned path or a trace'
    assert '_WindowedSoftmax' in str(traced.graph)
    with pytest.raises(ValueError, match='positive'):
        kernel_soft_argmax(volume, 3, sigma=0.0)
    with pytest.raises(ValueError, match="'auto', 'pytorch' or 'triton'"):
        kernel_soft_argmax(volume, 3, implementation='cuda')


def test_compiled_kernel_does_not_depend_on_the_number_of_threads():
    volume = correlation_volume(5, 16, 7, 9, 7)
    threads = torch.get_num_threads()
    runs = []
    try:
        for count in (1, 3):
            torch.set_num_threads(count)
            runs.append(compiled(volume, 7))
    finally:
        torch.set_num_threads(threads)
    for first, other in zip(*runs):
        assert torch.equal(first, other)
