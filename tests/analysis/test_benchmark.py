"""tools/analysis/benchmark.py's mechanics: ratio tables for two models and for the operators, and
its peak-memory measurement."""
import os

import pytest
import torch
from helpers import MSNET_CONFIG, python

from msnet_mmaction.analysis.benchmark import in_fresh_process, peak_memory

TSM_CONFIG = MSNET_CONFIG.replace('msnet_', 'tsm_')


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
