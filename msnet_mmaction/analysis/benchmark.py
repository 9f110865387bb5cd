"""Interleaved timing and peak-memory helpers for side-by-side benchmarks."""
import multiprocessing
import os
import queue as queue_module
import re
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


def _status_bytes(field: str) -> int:
    with open('/proc/self/status') as f:
        return int(re.search(rf'^{field}:\s+(\d+) kB', f.read(), re.M).group(1)) * 1024


def current_rss() -> int:
    """Resident set size of this process, bytes (Linux)."""
    return _status_bytes('VmRSS')


def peak_rss() -> int:
    """High-water mark of this process's resident set, bytes (Linux ``VmHWM``)."""
    return _status_bytes('VmHWM')


def reset_peak_rss() -> None:
    """Lower ``VmHWM`` to the current RSS (Linux >= 4.0, ``/proc/self/clear_refs``)."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def peak_memory(fn: Callable[[], object], device: str) -> int:
    """Extra memory ``fn`` needs at its peak, bytes.

    CUDA: ``max_memory_allocated`` over what was allocated before. CPU: the rise of the resident
    set's high-water mark, reset just before the call. Freed memory that the allocator keeps
    resident is reused without counting, so call it in a fresh process for a fair figure.
    """
    if device.startswith('cuda'):
        synchronize(device)
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated() - before
    before = current_rss()
    reset_peak_rss()
    fn()
    return max(peak_rss() - before, 0)


def in_fresh_process(target: Callable[..., object], *args) -> object:
    """``target(*args)`` in a new spawned interpreter; returns its result (picklable).

    For CPU memory figures: the child starts with nothing freed-but-resident, and glibc gets fixed
    mmap/trim thresholds (128 KiB) so that freed tensors leave the resident set at once.
    """
    context = multiprocessing.get_context('spawn')
    queue = context.Queue()
    tuning = {'MALLOC_MMAP_THRESHOLD_': '131072', 'MALLOC_TRIM_THRESHOLD_': '131072'}
    saved = {key: os.environ.get(key) for key in tuning}
    os.environ.update(tuning)
    try:
        child = context.Process(target=_put_result, args=(queue, target, args))
        child.start()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value
    while True:
        try:
            result = queue.get(timeout=1)
            break
        except queue_module.Empty:
            if not child.is_alive():
                raise RuntimeError(f'benchmark child process died (exit code {child.exitcode})')
    child.join()
    if isinstance(result, BaseException):
        raise result
    return result


def _put_result(queue, target: Callable[..., object], args: tuple) -> None:
    try:
        queue.put(target(*args))
    except Exception as error:  # handed to the parent, which raises it
        queue.put(error)


def autocast(device: str, dtype: torch.dtype = None):
    """Autocast context for ``dtype`` on ``device``; a no-op context for float32 / None."""
    if dtype is None or dtype == torch.float32:
        return nullcontext()
    return torch.autocast(device.split(':')[0], dtype=dtype)
