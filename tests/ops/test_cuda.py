"""The operators, the module and MSNet on CUDA, against the CPU and float64 (skipped without a
GPU)."""
import pytest
import torch
import torch.nn.functional as F
from helpers import (correlation_volume, fake_batch, reference_correlation, soft_argmax_formula,
                     tsm_cfg, values_and_grads)
from mmaction.registry import MODELS, OPTIM_WRAPPERS

from msnet_mmaction.models import MotionSqueeze
from msnet_mmaction.ops import (TRITON, kernel_soft_argmax, kernel_soft_argmax_path,
                                local_correlation, local_correlation_path)

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
IMPLEMENTATIONS = ['auto', 'reference']


def test_auto_runs_the_triton_kernels(monkeypatch):
    """CUDA builds of PyTorch ship Triton: the operators then run the Triton kernels."""
    pytest.importorskip('triton')
    from msnet_mmaction.ops.policy import TritonLaunch
    launched = []
    run = TritonLaunch.run
    monkeypatch.setattr(TritonLaunch, 'run',
                        lambda launch: launched.append(launch.kernel.__name__) or run(launch))
    a = torch.randn(2, 8, 6, 7, device='cuda', requires_grad=True)
    assert local_correlation_path(a, a, 2, 1).kernel == TRITON
    volume = local_correlation(a, a.detach(), 2)
    assert kernel_soft_argmax_path(volume).kernel == TRITON
    assert kernel_soft_argmax_path(volume, backward=True).kernel == TRITON
    u_v, confidence = kernel_soft_argmax(volume, 2)
    (u_v.sum() + confidence.sum()).backward()
    # The correlation's backward computes only a's gradient: b was detached.
    assert sorted(launched) == sorted(['_correlation_forward', '_correlation_backward',
                                       '_soft_argmax_forward', '_soft_argmax_backward'])


def test_opcheck_on_cuda_tensors():
    ops = torch.ops.msnet_mmaction
    a, b = (torch.randn(2, 5, 6, 7, device='cuda', requires_grad=True) for _ in range(2))
    volume = torch.randn(2, 25, 6, 7, device='cuda', requires_grad=True)
    cases = [(ops.local_correlation.default, (a, b, 2, 1)),
             (ops.local_correlation.default, (a, b, 1, 2)),
             (ops.local_correlation_backward.default,
              (torch.randn(2, 9, 6, 7, device='cuda'), a.detach(), b.detach(), 1, 1, True, True)),
             (ops.local_correlation_backward.default,
              (torch.randn(2, 9, 6, 7, device='cuda'), a.detach(), b.detach(), 1, 1, False, True)),
             (ops.kernel_soft_argmax.default, (volume, 2, 5.0, 100.0)),
             (ops.kernel_soft_argmax_backward.default,
              (torch.randn(2, 2, 6, 7, device='cuda'), torch.randn(2, 1, 6, 7, device='cuda'),
               volume.detach(), 2, 5.0, 100.0))]
    for op, args in cases:
        torch.library.opcheck(op, args)


@pytest.mark.parametrize('implementation', IMPLEMENTATIONS)
@pytest.mark.parametrize('shape, d, s', [((3, 5, 9, 11), 3, 1), ((2, 4, 7, 6), 2, 2),
                                         ((2, 3, 3, 4), 7, 1), ((1, 19, 4, 21), 9, 1)])
def test_correlation_values_and_gradients(shape, d, s, implementation):
    torch.manual_seed(0)
    a, b = (torch.randn(shape, dtype=torch.float64) for _ in range(2))
    expected = values_and_grads(lambda x, y: reference_correlation(x, y, d, s), a, b)
    for dtype in (torch.float64, torch.float32):  # float64 runs the reference inside the operator
        got = values_and_grads(lambda x, y: local_correlation(x, y, d, s,
                                                              implementation=implementation),
                               a.to('cuda', dtype), b.to('cuda', dtype))
        tolerance = dict(atol=1e-5, rtol=1e-5) if dtype == torch.float32 else {}
        for value, want in zip(got, expected):
            torch.testing.assert_close(value.double(), want, **tolerance)


@pytest.mark.parametrize('implementation', IMPLEMENTATIONS)
def test_correlation_gradcheck(implementation):
    a, b = (torch.randn(2, 3, 5, 6, dtype=torch.float64, device='cuda', requires_grad=True)
            for _ in range(2))
    assert torch.autograd.gradcheck(
        lambda x, y: local_correlation(x, y, 2, implementation=implementation), (a, b))


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_correlation_in_half_precision(dtype):
    torch.manual_seed(2)
    a, b = (F.normalize(torch.randn(4, 64, 12, 12, device='cuda'), dim=1) for _ in range(2))
    low = local_correlation(a.to(dtype), b.to(dtype), 7)
    assert low.dtype == dtype
    torch.testing.assert_close(low.float(), local_correlation(a, b, 7), atol=2e-2, rtol=0)


@pytest.mark.parametrize('implementation', IMPLEMENTATIONS)
def test_soft_argmax_matches_float64(implementation):
    volume = correlation_volume(3, 16, 9, 11, 7)
    volume[0, :, 0, 0] = -0.5  # nothing positive: confidence 0, uniform weights
    volume[1, [0, 224], 1, 1] = 0.9  # a tie: the first maximum wins
    got = values_and_grads(lambda v: kernel_soft_argmax(v, 7, implementation=implementation),
                           volume.cuda())
    expected = values_and_grads(lambda v: soft_argmax_formula(v, 7), volume.double())
    # displacement, confidence (exact), and the gradient, which scales with the temperature (100)
    tolerances = [dict(atol=2e-6, rtol=0), dict(atol=0, rtol=0), dict(atol=1e-5, rtol=1e-4)]
    for value, want, tolerance in zip(got, expected, tolerances):
        torch.testing.assert_close(value.double(), want, **tolerance)


def test_module_matches_the_cpu_in_training_and_inference(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)  # full float32 convolutions
    torch.manual_seed(3)
    module = MotionSqueeze(in_channels=32, num_segments=4)
    x = torch.randn(8, 32, 14, 14)
    for train in (True, False):
        module.train(train)
        gpu = MotionSqueeze(in_channels=32, num_segments=4).cuda().train(train)
        gpu.load_state_dict(module.state_dict())
        outputs = []
        for net, inputs in ((module, x), (gpu, x.cuda())):
            inputs = inputs.clone().requires_grad_(train)
            out, maps = net(inputs, return_maps=True)
            grad = torch.autograd.grad(out.square().sum(), inputs)[0] if train else out
            outputs.append([t.detach().cpu() for t in (out, *maps, grad)])
        for got, want in zip(outputs[1], outputs[0]):
            torch.testing.assert_close(got, want, atol=2e-4, rtol=2e-4)


def test_cuda_graphs_through_reduce_overhead_match_eager():
    torch.manual_seed(4)
    module = MotionSqueeze(in_channels=32, num_segments=4).cuda().eval()
    x = torch.randn(8, 32, 14, 14, device='cuda')
    compiled = torch.compile(module, mode='reduce-overhead', fullgraph=True)
    with torch.no_grad():
        expected = module(x)
        for _ in range(3):  # recorded, then replayed
            out = compiled(x).clone()
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)


def test_amp_training_steps_are_finite_and_learn():
    """float16, as ``tools/train.py --amp`` runs on CUDA. (With bfloat16, MMAction2's heads fail
    for any recognizer: they compute training accuracy with NumPy, which has no bfloat16.)"""
    torch.manual_seed(0)
    model = MODELS.build(tsm_cfg(num_classes=3)).cuda()
    model.init_weights()
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='AmpOptimWrapper', dtype='float16',
        optimizer=torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)))
    batch = fake_batch(3, 1, 4, size=64, labels=[0, 1, 2])
    losses = [float(model.train_step(batch, wrapper)['loss_cls']) for _ in range(8)]
    assert all(map(torch.isfinite, torch.tensor(losses)))
    assert losses[-1] < 0.5 * losses[0]
    scores = model.eval().test_step(fake_batch(2, 1, 4, size=64))
    assert scores[0].pred_score.shape == (3, )
