"""The registered operators: PyTorch's own operator checks (schema, fake kernels, autograd
registration, AOT dispatch) on each CPU code path, and MSNet under ``torch.compile`` with the
operators as single graph nodes, matching eager outputs and gradients."""
import itertools
import warnings

import pytest
import torch
from helpers import MSNET_CONFIG, python
from mmaction.registry import MODELS
from mmengine.config import Config

from msnet_mmaction.ops import KERNELS_ENV, kernel_soft_argmax, local_correlation

OPS = torch.ops.msnet_mmaction
OPERATOR_NAMES = {'msnet_mmaction.local_correlation', 'msnet_mmaction.kernel_soft_argmax'}


@pytest.fixture(params=['kernels', 'reference'])
def cpu_path(request, monkeypatch) -> str:
    """The CPU kernels of the operators: the compiled ones, or the reference inside them."""
    if request.param == 'reference':
        monkeypatch.setenv(KERNELS_ENV, '0')
    return request.param


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('shape, d, s', [((2, 5, 6, 7), 2, 1), ((1, 3, 4, 9), 0, 1),
                                         ((2, 4, 5, 5), 1, 2), ((1, 2, 3, 4), 3, 1)])
def test_correlation_passes_opcheck(shape, d, s, dtype, cpu_path):
    torch.manual_seed(0)
    a, b = (torch.randn(shape, dtype=dtype, requires_grad=True) for _ in range(2))
    torch.library.opcheck(OPS.local_correlation.default, (a, b, d, s))
    # Channels-last and strided inputs, as MotionSqueeze passes them.
    a_cl, b_cl = (x.detach().contiguous(memory_format=torch.channels_last).requires_grad_()
                  for x in (a, b))
    torch.library.opcheck(OPS.local_correlation.default, (a_cl, b_cl[..., :], d, s))
    grad = torch.randn(shape[0], (2 * d + 1)**2, *shape[2:], dtype=dtype)
    for needs in ((True, True), (True, False), (False, True)):
        torch.library.opcheck(OPS.local_correlation_backward.default,
                              (grad, a.detach(), b.detach(), d, s, *needs))


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('d, sigma, temperature', [(0, 5.0, 100.0), (1, 1.5, 7.0),
                                                   (3, 5.0, 100.0)])
def test_soft_argmax_passes_opcheck(d, sigma, temperature, dtype, cpu_path):
    torch.manual_seed(1)
    shape = (2, (2 * d + 1)**2, 4, 5)
    volume = torch.randn(shape, dtype=dtype, requires_grad=True)
    torch.library.opcheck(OPS.kernel_soft_argmax.default, (volume, d, sigma, temperature))
    channels_last = volume.detach().contiguous(memory_format=torch.channels_last)
    torch.library.opcheck(OPS.kernel_soft_argmax.default,
                          (channels_last.requires_grad_(), d, sigma, temperature))
    grads = (torch.randn(2, 2, 4, 5, dtype=dtype), torch.randn(2, 1, 4, 5, dtype=dtype))
    torch.library.opcheck(OPS.kernel_soft_argmax_backward.default,
                          (*grads, volume.detach(), d, sigma, temperature))


def build_msnet(implementation: str = 'auto'):
    cfg = Config.fromfile(MSNET_CONFIG)
    cfg.model.motion.implementation = implementation
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


class GraphRecorder:
    """A ``torch.compile`` backend that keeps the graphs Dynamo captures, then runs them through
    ``aot_eager`` (AOT autograd with functionalisation, the stage Inductor builds on)."""

    def __init__(self) -> None:
        self.graphs = []

    def __call__(self, graph_module, example_inputs):
        from torch._dynamo.backends.debugging import aot_eager
        self.graphs.append(graph_module)
        return aot_eager(graph_module, example_inputs)

    def operator_nodes(self) -> list:
        return [str(node.target).split('.default')[0] for graph in self.graphs
                for node in graph.graph.nodes if 'msnet_mmaction' in str(node.target)]


def probe_loss(out: torch.Tensor) -> torch.Tensor:
    """A loss whose gradient is not the same everywhere (a plain sum would cancel through BN)."""
    return (out * torch.linspace(-1, 1, out.numel()).view(out.shape)).sum()


@pytest.mark.slow
@pytest.mark.parametrize('train', [False, True])
def test_compiled_msnet_is_one_graph_holding_the_operators(train):
    model = build_msnet().train(train)
    inputs = torch.randn(2, 8, 3, 64, 64)
    recorder = GraphRecorder()
    compiled = torch.compile(model, fullgraph=True, backend=recorder)
    torch._dynamo.reset()
    out = compiled(inputs, mode='tensor')
    assert len(recorder.graphs) == 1
    assert sorted(recorder.operator_nodes()) == sorted(OPERATOR_NAMES)
    if train:
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        compiled_grads = torch.autograd.grad(probe_loss(out), [p for _, p in named],
                                             allow_unused=True)
        eager = model(inputs, mode='tensor')
        eager_grads = torch.autograd.grad(probe_loss(eager), [p for _, p in named],
                                          allow_unused=True)
        for (name, _), got, want in zip(named, compiled_grads, eager_grads):
            if want is not None:
                torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, msg=name)
    else:
        with torch.no_grad():
            eager = model(inputs, mode='tensor')
    torch.testing.assert_close(out, eager, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_reference_compiles_in_training_without_graph_breaks():
    """The reference is plain PyTorch operations; in training, AOT autograd's functionalisation
    takes them (no mutation of an overlapping view), and autograd derives their gradient."""
    model = build_msnet('reference').train()
    inputs = torch.randn(2, 8, 3, 64, 64)
    recorder = GraphRecorder()
    torch._dynamo.reset()
    out = torch.compile(model, fullgraph=True, backend=recorder)(inputs, mode='tensor')
    probe_loss(out).backward()
    assert len(recorder.graphs) == 1 and recorder.operator_nodes() == []
    torch.testing.assert_close(out, build_msnet('auto').train()(inputs, mode='tensor'),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_inductor_on_the_cpu_matches_eager():
    """Inductor's generated CPU code around the operators: outputs in training and inference,
    and the backward graph. The module sees a translating texture, so that the soft-argmax's
    arg-max, which carries no gradient, is unambiguous; gradients are compared with the batch
    norms in eval mode, as training-mode statistics of the near-constant motion maps would
    amplify rounding differences beyond any tolerance."""
    from msnet_mmaction.models import MotionSqueeze
    torch.manual_seed(2)
    module = MotionSqueeze(in_channels=16, num_segments=4, max_displacement=3)
    texture = torch.rand(16, 40, 40)
    clip = torch.stack([texture[:, 8 - t:32 - t, 8 - 2 * t:32 - 2 * t] for t in range(4)])
    x = torch.cat((clip, clip.flip(-1))).requires_grad_()
    torch._dynamo.reset()
    compiled = torch.compile(module, backend='inductor')
    for train in (True, False):
        module.train(train)
        got, want = compiled(x), module(x)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    inputs = [x, *module.parameters()]
    got_grads = torch.autograd.grad(probe_loss(got), inputs)
    want_grads = torch.autograd.grad(probe_loss(want), inputs)
    for got_grad, want_grad in zip(got_grads, want_grads):
        torch.testing.assert_close(got_grad, want_grad, rtol=1e-3, atol=1e-4)


@pytest.mark.slow
def test_export_keeps_the_operators_as_nodes(tmp_path):
    from msnet_mmaction.deployment import export_program, reference_decompositions
    model = build_msnet().eval()
    inputs = torch.randn(1, 8, 3, 64, 64)
    program = export_program(model, inputs)
    targets = {str(n.target).split('.default')[0] for n in program.graph.nodes}
    assert OPERATOR_NAMES <= targets
    path = str(tmp_path / 'msnet.pt2')
    torch.export.save(program, path)
    loaded = torch.export.load(path)
    decomposed = program.run_decompositions(reference_decompositions())
    assert not any('msnet_mmaction' in str(n.target) for n in decomposed.graph.nodes)
    with torch.no_grad():
        eager = model._forward(inputs, stage='head')
        for exported in (loaded, decomposed):
            torch.testing.assert_close(exported.module()(inputs), eager, rtol=1e-4, atol=1e-4)


def test_jit_trace_and_flop_counter_see_the_correlation_operator():
    from torch.utils.flop_counter import FlopCounterMode
    a, b = torch.randn(2, 8, 5, 6), torch.randn(2, 8, 5, 6)
    with warnings.catch_warnings():
        # MMEngine's FLOP counter traces the model: the operator must not warn there.
        warnings.simplefilter('error', torch.jit.TracerWarning)
        traced = torch.jit.trace(lambda x, y: local_correlation(x, y, 2), (a, b))
    assert 'msnet_mmaction::local_correlation' in str(traced.graph)
    with FlopCounterMode(display=False) as counter:
        local_correlation(a, b, 2)
    assert counter.get_total_flops() == 2 * 2 * 8 * 5 * 6 * 25


def test_module_implementations_agree_and_are_checked():
    from msnet_mmaction.models import MotionSqueeze
    torch.manual_seed(3)
    x = torch.randn(8, 16, 9, 9, requires_grad=True)
    results = []
    for implementation in ('auto', 'reference'):
        torch.manual_seed(4)
        module = MotionSqueeze(in_channels=16, num_segments=4, implementation=implementation)
        out, maps = module.eval()(x, return_maps=True)
        results.append((out, *maps))
    for got, want in itertools.zip_longest(*results):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match=r"implementation must be one of \('auto', 'reference'\)"):
        MotionSqueeze(in_channels=16, num_segments=4, implementation='triton')
    with torch.no_grad():
        assert kernel_soft_argmax(local_correlation(x, x, 1), 1)[0].shape == (8, 2, 9, 9)


@pytest.mark.slow
def test_mmengine_compile_option_through_train_and_test_tools(synthetic_root, tmp_path):
    """``compile`` in the config (here from the command line, with ``aot_eager``, which compiles
    in seconds where Inductor takes minutes on two cores) through tools/train.py and
    tools/test.py."""
    work_dir = str(tmp_path / 'compiled')
    options = ['--cfg-options', 'compile.backend=aot_eager', 'train_cfg.max_epochs=1']
    env = dict(MSNET_SYNTHETIC_ROOT=synthetic_root)
    trained = python('tools/train.py', MSNET_CONFIG, '--work-dir', work_dir, *options, env=env)
    assert 'Model has been "compiled"' in trained.stdout + trained.stderr
    tested = python('tools/test.py', MSNET_CONFIG, f'{work_dir}/epoch_1.pth', '--work-dir',
                    str(tmp_path / 'test'), *options, env=env)
    log = tested.stdout + tested.stderr
    assert "test_step compiled with torch.compile({'backend': 'aot_eager'})" in log
    assert 'acc/top1' in log


def test_backward_inside_an_autocast_region_computes_in_float32():
    """A backward pass run inside the autocast region (allowed, if not recommended) reaches the
    backward operators under autocast: they too take float32, so their plain PyTorch fallbacks do
    not run in bfloat16."""
    torch.manual_seed(4)
    a, b = torch.randn(1, 8, 5, 5, requires_grad=True), torch.randn(1, 8, 5, 5)
    want = [torch.autograd.grad(probe_loss(kernel_soft_argmax(local_correlation(a, b, 2, s), 2)[0]),
                                a)[0] for s in (1, 2)]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        for s, expected in zip((1, 2), want):  # the compiled kernels, then the reference
            volume = local_correlation(a, b, 2, s)
            grad, = torch.autograd.grad(probe_loss(kernel_soft_argmax(volume, 2)[0]), a)
            assert grad.dtype == torch.float32
            torch.testing.assert_close(grad, expected)
