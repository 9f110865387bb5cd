"""Interleaved timing and peak-memory helpers for side-by-side benchmarks."""
import resource
import time
from contextlib import nullcontext
from statistics import median
from typing import Callable, Dict, List, NamedTuple

import torch


class Stats(NamedTuple):
    min: float
    median: float
    max: float

    @classmethod
    def of(cls, values: List[float]) -> 'Stats':
        return cls(min(values), median(values), max(values))


def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def interleaved_times(fns: Dict[str, Callable[[], object]], repeats: int, warmup: int,
                      device: str = 'cpu') -> Dict[str, List[float]]:
    """Seconds per call of each function, measured in alternating rounds.

    Every round calls each function once; odd rounds reverse the order, so slow drifts of the
    machine (thermal, other load) fall on all functions alike.
    """
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    synchronize(device)
    times = {name: [] for name in names}
    for round_index in range(repeats):
        for name in (names if round_index % 2 == 0 else names[::-1]):
            synchronize(device)
            start = time.perf_counter()
            fns[name]()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def ratio_stats(numerator: List[float], denominator: List[float]) -> Stats:
    """Min/median/max of the per-round ratios ``numerator[i] / denominator[i]``."""
    return Stats.of([a / b for a, b in zip(numerator, denominator)])


def current_rss() -> int:
    """Resident set size of this process, bytes (Linux)."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_rss() -> int:
    """Peak resident set size of this process so far, bytes (Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_memory(fn: Callable[[], object], device: str) -> int:
    """Extra memory ``fn`` needs at its peak, bytes.

    CUDA: ``max_memory_allocated`` over what was allocated before. CPU: growth of the process's
    peak RSS, so call it once per fresh process, before anything else large has run.
    """
    if device.startswith('cuda'):
        synchronize(device)
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated() - before
    before = max(current_rss(), 0)
    fn()
    return max(peak_rss() - before, 0)


def autocast(device: str, dtype: torch.dtype = None):
    """Autocast context for ``dtype`` on ``device``; a no-op context for float32 / None."""
    if dtype is None or dtype == torch.float32:
        return nullcontext()
    return torch.autocast(device.split(':')[0], dtype=dtype)
