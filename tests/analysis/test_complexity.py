"""Complexity counting: the correlation baselines against the operator, MSNet-R50's overhead
against the published cost, tools/analysis/complexity.py and MMAction2's own get_flops."""
import os.path as osp

import pytest
import torch
from helpers import MSNET_CONFIG, REPO, python

from msnet_mmaction.analysis import (correlation_matmul_gather, correlation_unfold,
                                     measure_complexity, motion_squeeze_flops)
from msnet_mmaction.apis import build_recognizer
from msnet_mmaction.ops import local_correlation

TSM_CONFIG = MSNET_CONFIG.replace('msnet_', 'tsm_')


@pytest.mark.parametrize('d, dilation', [(7, 1), (3, 2)])
def test_baselines_match_the_op(d, dilation):
    a, b = torch.randn(2, 5, 9, 12, dtype=torch.float64), torch.randn(2, 5, 9, 12, dtype=torch.float64)
    expected = local_correlation(a, b, d, dilation)
    torch.testing.assert_close(correlation_unfold(a, b, d, dilation), expected)
    torch.testing.assert_close(correlation_matmul_gather(a, b, d, dilation), expected)


def test_r50_overhead_matches_the_published_cost():
    """MSNet-R50 vs TSM-R50, 8 frames at 224: the module is about +1.6 % multiply-adds."""
    inputs = torch.randn(1, 8, 3, 224, 224)
    msnet = measure_complexity(build_recognizer(osp.join(REPO, 'configs', 'msnet_r50_8f_sthv1.py')), inputs)
    tsm = measure_complexity(build_recognizer(osp.join(REPO, 'configs', 'tsm_r50_8f_sthv1.py')), inputs)
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


@pytest.mark.slow
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
def test_mmaction2_get_flops_counts_the_correlation():
    """MMAction2's own tools/analysis_tools/get_flops.py (shipped in the wheel) with an MSNet
    config: its total includes the correlation operator, as this project's counter does."""
    import mmaction
    tool = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools', 'analysis_tools',
                    'get_flops.py')
    out = python(tool, MSNET_CONFIG, '--shape', '8', '3', '64', '64').stdout
    flops = float(out.split('Flops: ')[1].split('G')[0])
    counted = measure_complexity(build_recognizer(MSNET_CONFIG), torch.randn(1, 8, 3, 64, 64))
    correlation = motion_squeeze_flops(64, 8, 16, 16)['correlation']
    assert flops == pytest.approx(counted.flops / 1e9, abs=1e-3)
    assert correlation / 1e9 > 0.01  # large enough for the comparison to see it
