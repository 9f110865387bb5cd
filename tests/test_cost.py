"""Complexity counting, the benchmark tool's mechanics, mixed precision and channels-last."""
import glob
import os
import os.path as osp
import resource

import pytest
import torch
from helpers import MSNET_CONFIG, REPO, python
from mmaction.registry import MODELS
from mmengine.config import Config

from msnet_mmaction.analysis import (correlation_matmul_gather, correlation_unfold,
                                     measure_complexity, motion_squeeze_flops)
from msnet_mmaction.analysis.benchmark import in_fresh_process, peak_memory
from msnet_mmaction.engine import keep_freed_memory
from msnet_mmaction.engine.malloc import ENABLE_ENV
from msnet_mmaction.ops import local_correlation

TSM_CONFIG = MSNET_CONFIG.replace('msnet_', 'tsm_')


def build(config: str, frames: int = 8):
    cfg = Config.fromfile(config)
    cfg.model.backbone.num_segments = cfg.model.cls_head.num_segments = frames
    cfg.model.backbone.pretrained = None
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('d, dilation', [(7, 1), (3, 2)])
def test_baselines_match_the_op(d, dilation):
    a, b = torch.randn(2, 5, 9, 12, dtype=torch.float64), torch.randn(2, 5, 9, 12, dtype=torch.float64)
    expected = local_correlation(a, b, d, dilation)
    torch.testing.assert_close(correlation_unfold(a, b, d, dilation), expected)
    torch.testing.assert_close(correlation_matmul_gather(a, b, d, dilation), expected)


def test_r50_overhead_matches_the_published_cost():
    """MSNet-R50 vs TSM-R50, 8 frames at 224: the module is about +1.6 % multiply-adds."""
    inputs = torch.randn(1, 8, 3, 224, 224)
    msnet = measure_complexity(build(osp.join(REPO, 'configs', 'msnet_r50_8f_sthv1.py')), inputs)
    tsm = measure_complexity(build(osp.join(REPO, 'configs', 'tsm_r50_8f_sthv1.py')), inputs)
    analytic = motion_squeeze_flops(512, 8, 28, 28)
    assert analytic == dict(reduction=8 * 784 * 512 * 64, correlation=7 * 784 * 225 * 64,
                            transform=8 * 784 * (49 * 3 + 3 * 16 + 9 * 16 + 16 * 32 + 9 * 32 +
                                                 32 * 64 + 9 * 64 + 64 * 512))
    assert msnet.motion_flops == sum(analytic.values())
    assert tsm.flops / 1e9 == pytest.approx(32.9, abs=0.05)
    overhead = 100 * (msnet.flops - tsm.flops) / tsm.flops
    assert overhead == pytest.approx(100 * sum(analytic.values()) / tsm.flops, abs=0.2)
    assert 1.4 < overhead < 1.8
    assert msnet.params - tsm.params == msnet.motion_params == 71161 - 256


def test_complexity_tool_prints_the_table():
    out = python('tools/analysis/complexity.py', MSNET_CONFIG, TSM_CONFIG, '--frames', '8', '--shape',
                 '64', '64').stdout
    row = next(line for line in out.splitlines() if line.startswith('| msnet_r18'))
    cells = [c.strip() for c in row.strip('|').split('|')]
    counted, analytic = cells[4].replace(')', '').split(' (')
    expected = sum(motion_squeeze_flops(64, 8, 16, 16).values()) / 1e9
    assert float(counted) == float(analytic) == pytest.approx(expected, abs=5e-4)
    # 1x1 reduction 64->64 + BN, then separable blocks 3->16->32->64->64 (depthwise, BN, pointwise, BN).
    params = 64 * 64 + 2 * 64 + sum(k * k * i + 2 * i + i * o + 2 * o for i, o, k in
                                    ((3, 16, 7), (16, 32, 3), (32, 64, 3), (64, 64, 3)))
    assert cells[5] == f'{params:,d}' == '12,665' and cells[7] == f'+{params:,d}'
    assert cells[6].endswith('%') and float(cells[6][:-1].strip()) > 0


@pytest.mark.slow
def test_benchmark_tool_prints_ratios():
    """Eager and compiled models in the same rounds (``aot_eager``, which compiles in seconds,
    stands in for Inductor), in both precisions."""
    out = python('tools/analysis/benchmark.py', MSNET_CONFIG, TSM_CONFIG, '--shape', '32', '32',
                 '--batches', '1', '--train-batch', '1', '--repeats', '2', '--warmup', '0',
                 '--precisions', 'fp32', 'amp', '--threads', '1', '--compile',
                 '--compile-backend', 'aot_eager').stdout
    rows = [line for line in out.splitlines() if line.startswith('| ')]
    header = [c.strip() for c in rows[0].strip('|').split('|')]
    assert header[2:] == ['A', 'B', 'A / B', 'A compiled', 'B compiled', 'A / B compiled',
                          'A compiled / A']
    cases = {(r.split('|')[1].strip(), r.split('|')[2].strip()) for r in rows}
    for precision in ('fp32', 'bfloat16'):
        assert {('inference, batch 1', precision), ('train step, batch 1', precision)} <= cases
    for row in rows:
        cells = [c.strip() for c in row.strip('|').split('|')]
        if cells[0].startswith(('inference', 'train step,')):
            for ratio in (cells[4], cells[7], cells[8]):
                assert 0.2 < float(ratio.split()[0]) < 5
    memory = next(r for r in rows if 'peak memory' in r)
    assert 'MiB' in memory


@pytest.mark.slow
def test_benchmark_tool_compares_the_operators_with_their_references():
    """The soft-argmax (the cheaper operator to compile): its operator against the reference,
    eager and under Inductor; the times of the compiled rows exclude the compilation."""
    out = python('tools/analysis/benchmark.py', '--ops', 'soft-argmax', '--pairs', '2',
                 '--repeats', '2', '--warmup', '0', '--threads', '1').stdout
    rows = {r.split('|')[3].strip(): r.split('|') for r in out.splitlines()
            if r.startswith('| soft-argmax')}
    assert set(rows) == {'operator', 'reference', 'reference, Inductor'}
    for cells in rows.values():
        assert float(cells[4].split()[0]) < 1000  # forward, ms
        assert float(cells[6].rstrip(' x')) > 0
    assert float(rows['operator'][6].rstrip(' x')) == 1.0


def _peak_of_allocating(elements: int) -> int:
    return peak_memory(lambda: torch.ones(elements).add_(1).sum() if elements else None, 'cpu')


@pytest.mark.slow
def test_cpu_peak_memory_sees_a_known_allocation():
    size = 16 * 2**20  # float32 elements: 64 MiB
    measured = in_fresh_process(_peak_of_allocating, size)
    assert 0.95 * 4 * size < measured < 1.3 * 4 * size
    assert in_fresh_process(_peak_of_allocating, 0) < 0.05 * 4 * size
    with pytest.raises(RuntimeError, match='negative dimension'):
        in_fresh_process(_peak_of_allocating, -1)
    with pytest.raises(RuntimeError, match='died'):
        in_fresh_process(os._exit, 3)


PAGE_FAULTS_PER_STEP = """
import resource, sys
import torch
from msnet_mmaction.engine import keep_freed_memory
applied = keep_freed_memory(sys.argv[1])
torch.manual_seed(0)
torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16),
                          torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 1))
images = torch.randn(4, 3, 512, 512)  # activations of 64 MiB: over glibc's largest mmap threshold

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    net(images).square().mean().backward()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

print(applied, *[faults() for _ in range(8)])
"""


@pytest.mark.slow
def test_keep_freed_memory_stops_refaulting_activations():
    """With glibc's defaults every training step maps its large activations afresh, one page fault
    per page; once ``keep_freed_memory`` applies, later steps reuse the pages freed before."""
    def run(device: str, env: dict) -> tuple:
        applied, *faults = python('-c', PAGE_FAULTS_PER_STEP, device, env=env).stdout.split()
        return applied == 'True', [int(f) for f in faults[-4:]]

    activation_pages = 64 * 2**20 // resource.getpagesize()
    unmanaged, default = run('cpu', {ENABLE_ENV: '0'})
    applied, kept = run('cpu', {})
    assert not unmanaged and applied and not keep_freed_memory('cuda')
    assert min(default) > 4 * activation_pages
    assert sum(kept) < min(default)


@pytest.mark.slow
def test_amp_training_on_cpu(synthetic_root, tmp_path):
    work_dir = str(tmp_path / 'amp')
    out = python('tools/train.py', MSNET_CONFIG, '--amp', '--work-dir', work_dir, '--cfg-options',
                 'train_dataloader.batch_size=1', 'train_dataloader.dataset.indices=1',
                 'default_hooks.logger.interval=1',
                 env=dict(MSNET_SYNTHETIC_ROOT=synthetic_root))
    log = out.stdout + out.stderr
    assert "type='CPUAmpOptimWrapper'" in log
    loss = float(log.split('Epoch(train) [1][1/1]')[1].split('loss: ')[1].split()[0])
    assert torch.isfinite(torch.tensor(loss))
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))


def test_bf16_autocast_and_channels_last_match_fp32():
    torch.manual_seed(0)
    model = build(MSNET_CONFIG).eval()
    inputs = torch.randn(2 * 8, 3, 64, 64)
    with torch.no_grad():
        reference = model.backbone(inputs)
        channels_last = model.backbone(inputs.contiguous(memory_format=torch.channels_last))
        with torch.autocast('cpu', dtype=torch.bfloat16):
            mixed = model.backbone(inputs)
    torch.testing.assert_close(channels_last, reference, rtol=1e-4, atol=1e-4)
    assert mixed.dtype == torch.bfloat16 and torch.isfinite(mixed).all()
    relative = (mixed.float() - reference).norm() / reference.norm()
    assert relative < 0.05
    motion = model.backbone.motion_modules[0]
    features = torch.randn(16, 64, 16, 16)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        maps = motion.estimate(features.bfloat16())
    assert maps.displacement.dtype == torch.float32 and torch.isfinite(maps.displacement).all()


def test_every_tool_has_a_docstring():
    for tool in glob.glob(osp.join(REPO, 'tools', '**', '*.py'), recursive=True):
        with open(tool) as f:
            assert f.read().lstrip().startswith('"""'), tool


def test_mmaction2_get_flops_counts_the_correlation():
    """MMAction2's own tools/analysis_tools/get_flops.py (shipped in the wheel) with an MSNet
    config: its total includes the correlation operator, as this project's counter does."""
    import mmaction
    tool = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools', 'analysis_tools',
                    'get_flops.py')
    out = python(tool, MSNET_CONFIG, '--shape', '8', '3', '64', '64').stdout
    flops = float(out.split('Flops: ')[1].split('G')[0])
    counted = measure_complexity(build(MSNET_CONFIG), torch.randn(1, 8, 3, 64, 64))
    correlation = motion_squeeze_flops(64, 8, 16, 16)['correlation']
    assert flops == pytest.approx(counted.flops / 1e9, abs=1e-3)
    assert correlation / 1e9 > 0.01  # large enough for the comparison to see it


@pytest.mark.slow
@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_tools_wait_passively_unless_told_otherwise(tool):
    """Spinning OpenMP threads take the cores of other jobs (docs/benchmarks.md): the tools set
    ``OMP_WAIT_POLICY=PASSIVE`` before torch loads, and leave a value the user chose."""
    script = ('import os, runpy, sys\n'
              f'sys.argv = [{tool!r}, "--help"]\n'
              'try:\n'
              f'    runpy.run_path({tool!r}, run_name="__main__")\n'
              'except SystemExit:\n'
              '    pass\n'
              'print(os.environ["OMP_WAIT_POLICY"])\n')
    assert 'OMP_WAIT_POLICY' not in os.environ
    assert python('-c', script).stdout.splitlines()[-1] == 'PASSIVE'
    assert python('-c', script, env=dict(OMP_WAIT_POLICY='ACTIVE')).stdout.splitlines()[-1] == \
        'ACTIVE'
