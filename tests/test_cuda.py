"""The ops, the module and MSNet on CUDA, against the CPU and float64 (skipped without a GPU)."""
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS, OPTIM_WRAPPERS
from test_correlation import reference_correlation
from test_msnet import fake_batch, tsm_cfg
from test_soft_argmax import correlation_volume, direct, values_and_grad

from msnet_mmaction.models import MotionSqueeze
from msnet_mmaction.ops import kernel_soft_argmax, local_correlation

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
IMPLEMENTATIONS = ['auto', 'pytorch']


def test_auto_runs_the_triton_kernels():
    """CUDA builds of PyTorch ship Triton: 'auto' then runs the Triton kernels of both ops."""
    pytest.importorskip('triton')
    a = torch.randn(2, 8, 6, 7, device='cuda', requires_grad=True)
    volume = local_correlation(a, a.detach(), 2)
    u_v, confidence = kernel_soft_argmax(volume, 2)
    assert type(volume.grad_fn).__name__ == 'TritonCorrelationBackward'
    assert type(u_v.grad_fn).__name__ == 'TritonSoftArgmaxBackward'


@pytest.mark.parametrize('implementation', IMPLEMENTATIONS)
@pytest.mark.parametrize('shape, d, s', [((3, 5, 9, 11), 3, 1), ((2, 4, 7, 6), 2, 2),
                                         ((2, 3, 3, 4), 7, 1), ((1, 19, 4, 21), 9, 1)])
def test_correlation_values_and_gradients(shape, d, s, implementation):
    torch.manual_seed(0)
    a, b = (torch.randn(shape, dtype=torch.float64) for _ in range(2))
    probe = torch.randn(shape[0], (2 * d + 1)**2, *shape[2:], dtype=torch.float64)
    expected = reference_correlation(a, b, d, s)
    for dtype in (torch.float64, torch.float32):  # 'auto' sends float64 to the PyTorch path
        x, y = (t.to('cuda', dtype).requires_grad_() for t in (a, b))
        out = local_correlation(x, y, d, s, implementation=implementation)
        assert out.is_cuda and out.dtype == dtype
        tolerance = dict(atol=1e-5, rtol=1e-5) if dtype == torch.float32 else {}
        torch.testing.assert_close(out.double().cpu(), expected, **tolerance)
        grads = torch.autograd.grad((out * probe.to(out)).sum(), (x, y))
        cpu = [t.detach().clone().requires_grad_() for t in (a, b)]
        expected_grads = torch.autograd.grad((reference_correlation(*cpu, d, s) * probe).sum(), cpu)
        for got, want in zip(grads, expected_grads):
            torch.testing.assert_close(got.double().cpu(), want, **tolerance)


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
@pytest.mark.parametrize('grad', [False, True])
def test_soft_argmax_matches_float64(grad, implementation):
    volume = correlation_volume(3, 16, 9, 11, 7)
    volume[0, :, 0, 0] = -0.5  # nothing positive: confidence 0, uniform weights
    volume[1, [0, 224], 1, 1] = 0.9  # a tie: the first maximum wins

    def on_cuda(v):
        return [t.cpu() for t in kernel_soft_argmax(v.cuda(), 7, implementation=implementation)]

    expected = values_and_grad(lambda v: direct(v, 7), volume.double())
    if grad:
        got = values_and_grad(on_cuda, volume)
    else:
        with torch.no_grad():
            got = on_cuda(volume)
        expected = expected[:2]
    # displacement, confidence (exact), and the gradient, which scales with the temperature (100)
    tolerances = [dict(atol=2e-6, rtol=0), dict(atol=0, rtol=0), dict(atol=1e-5, rtol=1e-4)]
    for value, want, tolerance in zip(got, expected, tolerances):
        torch.testing.assert_close(value.double().cpu(), want, **tolerance)


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
