"""The Triton kernels (the operators' CUDA kernels), run through the operators, against the
formulas: on a GPU where there is one, else in Triton's interpreter on the CPU
(tests/conftest.py sets ``TRITON_INTERPRET=1``, and ``MSNET_MMACTION_KERNELS=triton`` points the
operators at the Triton kernels); launched on their tensors' device; and compiled to machine code
for A100 and H100 GPUs without one. Skipped without Triton."""
import inspect
import sys

import pytest
import torch
from helpers import (correlation_volume, reference_correlation, run, soft_argmax_formula,
                     values_and_grads)

triton = pytest.importorskip('triton')
from msnet_mmaction.ops import (KERNELS_ENV, TRITON, kernel_soft_argmax_path,  # noqa: E402
                                kernel_soft_argmax_triton, local_correlation,
                                local_correlation_path, local_correlation_triton)
from msnet_mmaction.ops.policy import TritonLaunch, int32_addressable  # noqa: E402

DEVICE = 'cuda' if torch.cuda.is_available() else 'cpu'


@pytest.fixture(autouse=True)
def triton_everywhere(monkeypatch):
    """The operators run their Triton kernels: on CUDA tensors, or here on CPU tensors in the
    interpreter."""
    monkeypatch.setenv(KERNELS_ENV, 'triton')


def triton_correlation(a, b, d, s=1):
    """The operator on ``DEVICE``, which must run the Triton kernels, forward and backward."""
    a, b = a.to(DEVICE), b.to(DEVICE)
    assert local_correlation_path(a, b, d, s).kernel == TRITON
    return local_correlation(a, b, d, s)


def triton_soft_argmax(volume, d):
    """The operator on ``DEVICE``, which must run the Triton kernels, forward and backward."""
    volume = volume.to(DEVICE)
    assert kernel_soft_argmax_path(volume).kernel == TRITON
    assert kernel_soft_argmax_path(volume, backward=True).kernel == TRITON
    return torch.ops.msnet_mmaction.kernel_soft_argmax(volume, d, 5.0, 100.0)


@pytest.mark.parametrize('shape, d, s', [((2, 5, 4, 6), 2, 1), ((1, 3, 5, 4), 1, 2),
                                         ((1, 2, 3, 2), 3, 1), ((1, 3, 2, 3), 0, 1)])
def test_correlation_values_and_gradients_match_the_formula(shape, d, s):
    """Offsets beyond the map (d = 3 on 3x2), a dilation, and d = 0."""
    torch.manual_seed(0)
    a, b = (torch.randn(shape, dtype=torch.float64) for _ in range(2))
    got = values_and_grads(lambda x, y: triton_correlation(x, y, d, s), a.float(), b.float())
    expected = values_and_grads(lambda x, y: reference_correlation(x, y, d, s), a, b)
    assert got[0].is_contiguous(memory_format=torch.channels_last)
    for value, want in zip(got, expected):
        torch.testing.assert_close(value.double(), want, atol=1e-5, rtol=1e-5)


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


def test_correlation_gradients_are_laid_out_like_their_inputs():
    torch.manual_seed(2)
    a = torch.randn(1, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    b = torch.randn(1, 3, 4, 5)
    grad_a, grad_b = local_correlation_triton.backward(torch.randn(1, 9, 4, 5).to(DEVICE),
                                                       a.to(DEVICE), b.to(DEVICE), 1, 1)
    assert grad_a.stride() == a.stride() and grad_b.stride() == b.stride()


@pytest.mark.parametrize('d', [0, 1, 7])
def test_soft_argmax_values_and_gradients_match_float64(d):
    """Correlation volumes, random ones, ties at the maximum (the first wins, as in ``argmax``) and
    a row with nothing positive (confidence 0 without a gradient, uniform weights)."""
    p = 2 * d + 1
    tied = torch.rand(1, p * p, 2, 3) * 0.5
    tied[0, [p * p - 1, 0], 0, 0] = 0.75
    tied[0, :, 1, 2] = -0.25
    for volume in (correlation_volume(2, 16, 3, 4, d), torch.randn(1, p * p, 2, 3), tied):
        got = values_and_grads(lambda v: triton_soft_argmax(v, d), volume)
        expected = values_and_grads(lambda v: soft_argmax_formula(v, d), volume.double())
        torch.testing.assert_close(got[0].double(), expected[0], atol=1e-6, rtol=0)
        assert torch.equal(got[1].double(), expected[1])
        torch.testing.assert_close(got[2].double(), expected[2], atol=1e-5, rtol=1e-4)


def test_what_the_kernels_take():
    """float32/16/bf16 features of up to 256 channels for the correlation, float32 volumes for the
    soft-argmax."""
    def features(channels=64, dtype=torch.float32):
        return torch.empty(2, channels, 5, 5, dtype=dtype, device='meta')

    refusal = local_correlation_triton.refusal
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        assert refusal(features(dtype=dtype), features(dtype=dtype), 7) is None
    assert 'not torch.float64' in refusal(features(dtype=torch.float64),
                                          features(dtype=torch.float64), 7)
    assert refusal(features(256), features(256), 7) is None
    assert 'at most 256 channels, not 257' in refusal(features(257), features(257), 7)
    volume = torch.empty(2, 225, 5, 5, device='meta')
    assert kernel_soft_argmax_triton.refusal(volume, torch.float32) is None
    assert 'not torch.float64' in kernel_soft_argmax_triton.refusal(volume, torch.float64)


def test_half_precision_volumes_run_the_soft_argmax_kernel_in_float32():
    volume = torch.randn(1, 9, 3, 4, device=DEVICE).half()
    path = kernel_soft_argmax_path(volume)
    assert path.kernel == TRITON and path.dtype == torch.float32
    u_v, confidence = torch.ops.msnet_mmaction.kernel_soft_argmax(volume, 1, 5.0, 100.0)
    assert u_v.dtype == confidence.dtype == torch.float16
    expected = soft_argmax_formula(volume.double().cpu(), 1)
    torch.testing.assert_close(u_v.double().cpu(), expected[0], atol=2e-3, rtol=0)


def test_launches_run_on_the_device_of_their_tensors(monkeypatch):
    """Every launch takes its device from its tensors, not from the current CUDA device: a model
    on ``cuda:1`` while ``cuda:0`` is current must not run, or fail, on ``cuda:0``."""
    entered = []

    class Device:
        def __init__(self, device):
            entered.append(torch.device(device))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    class Kernel:
        def __getitem__(self, grid):
            return lambda *args, **constexprs: None

    monkeypatch.setattr(torch.cuda, 'device', Device)
    a = torch.empty(1, 4, 3, 3, device='meta')
    launch = local_correlation_triton.forward_launch(a, a, a.new_empty(1, 3, 3, 9), 1, 1)
    assert launch.device == torch.device('meta')
    for index in (1, 3):
        tensor = torch.empty(1, device='meta')
        fake = TritonLaunch(Kernel(), (1, ), (tensor, 3), {})
        monkeypatch.setattr(TritonLaunch, 'device', property(
            lambda self, index=index: torch.device('cuda', index)))
        fake.run()
    assert entered == [torch.device('cuda', 1), torch.device('cuda', 3)]


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason='needs two CUDA devices')
def test_operators_on_a_device_that_is_not_current():
    torch.manual_seed(7)
    a, b = (torch.randn(2, 8, 6, 7, dtype=torch.float64) for _ in range(2))
    expected = values_and_grads(lambda x, y: reference_correlation(x, y, 2, 1), a, b)
    with torch.cuda.device(0):
        got = values_and_grads(lambda x, y: local_correlation(x.to('cuda:1'), y.to('cuda:1'), 2),
                               a.float(), b.float())
        volume = correlation_volume(2, 16, 5, 6, 3)
        u_v, confidence = torch.ops.msnet_mmaction.kernel_soft_argmax(volume.to('cuda:1'), 3,
                                                                      5.0, 100.0)
    for value, want in zip(got, expected):
        torch.testing.assert_close(value.double().cpu(), want, atol=1e-5, rtol=1e-5)
    want_u_v, want_confidence = soft_argmax_formula(volume.double(), 3)
    torch.testing.assert_close(u_v.double().cpu(), want_u_v, atol=1e-6, rtol=0)
    assert u_v.device == torch.device('cuda', 1)


@pytest.mark.slow
def test_kernels_compile_for_ampere_and_hopper_gpus():
    """Each kernel variant the operators launch, compiled to machine code (sm_80, sm_90) without a
    GPU; the interpreter above runs the kernels as Python, which accepts code the compiler
    rejects."""
    from triton.compiler import ASTSource
    if 'constexprs' not in inspect.signature(ASTSource).parameters:
        pytest.skip(f'Triton {triton.__version__} names its compile arguments differently')
    printed = run([sys.executable, 'tools/compile_triton_kernels.py', '80', '90'],
                  env={'TRITON_INTERPRET': '0'}).stdout.splitlines()
    compiled = dict(line.rsplit(': ', 1) for line in printed)
    # The correlation: forward and both backward passes for float32, float16 and bfloat16 at 64
    # channels, and for float32 at 256 and 3 channels; the soft-argmax: forward and backward for
    # three tile shapes. Each for two architectures.
    assert len(compiled) == 2 * (3 * 5 + 2 * 3) == len(printed)
    assert all(int(size.split()[0]) > 0 for size in compiled.values())


def test_tensors_beyond_32_bit_offsets_are_left_to_the_reference():
    """The kernels compute element offsets in 32-bit integers. MSNet-R50's features (64 channels,
    28x28) with d = 7 make 176,400 volume elements per pair, so 12,174 pairs reach 2**31."""
    def features(pairs, channels=64):
        return torch.empty(pairs, channels, 28, 28, device='meta')

    def takes(a, b, d):
        return local_correlation_triton.refusal(a, b, d) is None

    def takes_volume(n, k, size):
        volume = torch.empty(n, k, size, size, device='meta')
        return kernel_soft_argmax_triton.refusal(volume, torch.float32) is None

    assert takes(features(12173), features(12173), 7)
    assert not takes(features(12174), features(12174), 7)
    # With d = 0 the inputs are the larger: 42,799 pairs of 50,176 elements are the most.
    assert takes(features(42799), features(42799), 0)
    assert not takes(features(42799), features(42800), 0)
    assert takes_volume(12173, 225, 28) and not takes_volume(12174, 225, 28)
    # With d = 0 the (N, H, W, 2) displacement is twice the (N, H, W, 1) volume.
    assert takes_volume(2**30 - 1, 1, 1) and not takes_volume(2**30, 1, 1)
    # Strides count, not sizes: a broadcast spans one element, a strided view its whole extent.
    assert int32_addressable(torch.empty(1, device='meta').expand(2**40))
    assert not int32_addressable(torch.empty(2, device='meta').as_strided((2, ), (2**31, )))
    assert int32_addressable(torch.empty(2, device='meta').as_strided((2, ), (2**31 - 1, )))
