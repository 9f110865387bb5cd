"""Side-by-side speed and memory of two configs (MSNet vs its TSM twin), and of the correlation op.

    python tools/analysis/benchmark.py CONFIG_A CONFIG_B [--frames 8] [--shape 224 224]
        [--batches 1 8] [--train-batch 2] [--precisions fp32 amp] [--repeats 7] [--warmup 2]
        [--device cpu|cuda] [--threads N]
    python tools/analysis/benchmark.py --correlation [--pairs 56 240] [--device cpu|cuda]

Models: in one process, the two models are timed in alternating rounds (inference at each batch
size, and a training step: forward, backward and SGD step). On CPU, malloc is set up as the
training and test tools set it (``keep_freed_memory``). Peak memory is CUDA's max allocated or,
on CPU, the rise of the resident set's high-water mark during a training step (after one warm-up
step) in a fresh process per model. Mixed precision is bfloat16 autocast on CPU and float16
autocast with loss scaling on CUDA, through the optimizer wrappers that ``tools/train.py --amp``
uses. The output gives min/median/max per model and the per-round ratios A/B.

Correlation: the project's op (``ours``: the compiled CPU kernel on CPU, the Triton kernels on
CUDA; ``ours-pytorch``: the PyTorch path, which runs where neither can) against an
unfold (im2col) formulation and a full matrix product followed by a gather, at C=64, 28x28, d=7
(MSNet-R50's shapes, batch x (T-1) pairs).
"""
import argparse
import os.path as osp
from functools import partial
from typing import Callable, Dict, List, Optional

import torch

import msnet_mmaction  # noqa: F401
from msnet_mmaction.analysis import correlation_matmul_gather, correlation_unfold
from msnet_mmaction.analysis.benchmark import (Stats, autocast, in_fresh_process,
                                               interleaved_times, peak_memory, ratio_stats)
from msnet_mmaction.engine import keep_freed_memory
from msnet_mmaction.engine.malloc import ENABLE_ENV
from msnet_mmaction.ops import local_correlation


def amp_dtype(device: str) -> torch.dtype:
    return torch.float16 if device.startswith('cuda') else torch.bfloat16


def build_model(config: str, frames: int, device: str) -> torch.nn.Module:
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    cfg.model.backbone.num_segments = frames
    cfg.model.cls_head.num_segments = frames
    return MODELS.build(cfg.model).to(device)


def fake_batch(model: torch.nn.Module, clips: int, frames: int, shape, device: str) -> dict:
    from mmaction.structures import ActionDataSample
    inputs = [torch.randint(0, 256, (frames, 3, *shape), dtype=torch.uint8) for _ in range(clips)]
    samples = [ActionDataSample().set_gt_label(0) for _ in range(clips)]
    return model.data_preprocessor(dict(inputs=inputs, data_samples=samples), training=True)


def inference_fn(model, data: dict, dtype: Optional[torch.dtype], device: str) -> Callable:
    def run():
        with torch.no_grad(), autocast(device, dtype):
            model(**data, mode='predict')
    return run


def optim_wrapper(model: torch.nn.Module, dtype: Optional[torch.dtype], device: str):
    """SGD in the optimizer wrapper that ``tools/train.py`` (``--amp`` or not) would use."""
    from mmengine.optim import AmpOptimWrapper, OptimWrapper

    from msnet_mmaction.engine import CPUAmpOptimWrapper
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    if dtype is None:
        return OptimWrapper(optimizer)
    if device.startswith('cuda'):
        return AmpOptimWrapper(optimizer=optimizer, dtype=dtype)
    return CPUAmpOptimWrapper(optimizer=optimizer, dtype=dtype)


def train_fn(model, data: dict, dtype: Optional[torch.dtype], device: str) -> Callable:
    wrapper = optim_wrapper(model, dtype, device)

    def run():
        with wrapper.optim_context(model):
            losses = model(**data, mode='loss')
        wrapper.update_params(sum(v for k, v in losses.items() if 'loss' in k))
    return run


def _train_memory(config, frames, shape, batch, precision, device, threads) -> int:
    torch.set_num_threads(threads)
    model = build_model(config, frames, device).train()
    data = fake_batch(model, batch, frames, shape, device)
    dtype = amp_dtype(device) if precision == 'amp' else None
    step = train_fn(model, data, dtype, device)
    step()
    return peak_memory(step, device)


def isolated(device: str, measure: Callable[..., int], *args) -> int:
    """``measure(*args)`` where other work cannot distort it: in this process on CUDA (then its
    cached blocks are released), in a fresh process on CPU."""
    if not device.startswith('cuda'):
        return in_fresh_process(measure, *args)
    result = measure(*args)
    torch.cuda.empty_cache()
    return result


def train_peak_memory(config: str, args: argparse.Namespace, precision: str) -> int:
    """Peak extra memory of a training step after a first (warm-up) step."""
    return isolated(args.device, _train_memory, config, args.frames, tuple(args.shape),
                    args.train_batch, precision, args.device, args.threads)


def _fmt(stats: Stats, scale: float = 1e3, unit: str = 'ms') -> str:
    return f'{stats.median * scale:.1f} {unit} ({stats.min * scale:.1f}-{stats.max * scale:.1f})'


def benchmark_models(args: argparse.Namespace) -> None:
    config_a, config_b = args.configs
    name_a, name_b = (osp.splitext(osp.basename(c))[0] for c in args.configs)
    models = {name_a: build_model(config_a, args.frames, args.device),
              name_b: build_model(config_b, args.frames, args.device)}
    print(f'\n{name_a} (A) vs {name_b} (B): {args.frames} frames, {args.shape[0]}x{args.shape[1]}, '
          f'{args.device}, {torch.get_num_threads()} threads; {args.repeats} interleaved rounds '
          f'after {args.warmup} warm-up; median (min-max).\n')
    print('| measure | precision | A | B | A / B median (min-max) |')
    print('|---|---|---|---|---|')
    for precision in args.precisions:
        dtype = amp_dtype(args.device) if precision == 'amp' else None
        label = {None: 'fp32'}.get(dtype, str(dtype).replace('torch.', ''))
        cases: Dict[str, Dict[str, Callable]] = {}
        for batch in args.batches:
            for model in models.values():
                model.eval()
            cases[f'inference, batch {batch}'] = {
                name: inference_fn(m, fake_batch(m, batch, args.frames, args.shape, args.device),
                                   dtype, args.device) for name, m in models.items()}
        cases[f'train step, batch {args.train_batch}'] = {
            name: train_fn(m.train(), fake_batch(m, args.train_batch, args.frames, args.shape,
                                                 args.device), dtype, args.device)
            for name, m in models.items()}
        for measure, fns in cases.items():
            for model in models.values():
                model.train('train' in measure)
            times = interleaved_times(fns, args.repeats, args.warmup, args.device)
            ratio = ratio_stats(times[name_a], times[name_b])
            print(f'| {measure} | {label} | {_fmt(Stats.of(times[name_a]))} | '
                  f'{_fmt(Stats.of(times[name_b]))} | {ratio.median:.3f} '
                  f'({ratio.min:.3f}-{ratio.max:.3f}) |', flush=True)
        memory = [train_peak_memory(c, args, precision) for c in args.configs]
        kind = 'max allocated' if args.device.startswith('cuda') else 'peak RSS growth'
        print(f'| train step peak memory ({kind}) | {label} | {memory[0] / 2**20:.0f} MiB | '
              f'{memory[1] / 2**20:.0f} MiB | {memory[0] / max(memory[1], 1):.3f} |', flush=True)


CORRELATIONS = {'ours': local_correlation,
                'ours-pytorch': partial(local_correlation, implementation='pytorch'),
                'unfold': correlation_unfold, 'matmul-gather': correlation_matmul_gather}


def _correlation_call(name: str, pairs: int, device: str, backward: bool) -> Callable:
    torch.manual_seed(0)
    a = torch.randn(pairs, 64, 28, 28, device=device, requires_grad=backward)
    b = torch.randn(pairs, 64, 28, 28, device=device, requires_grad=backward)
    fn = CORRELATIONS[name]

    def run():
        if not backward:
            with torch.no_grad():
                return fn(a, b, 7)
        out = fn(a, b, 7)
        out.backward(torch.ones_like(out))
        a.grad = b.grad = None
    return run


def _correlation_memory(name: str, pairs: int, device: str, backward: bool, threads: int) -> int:
    torch.set_num_threads(threads)
    _correlation_call(name, 1, device, backward)()
    return peak_memory(_correlation_call(name, pairs, device, backward), device)


def correlation_memory(name: str, pairs: int, args: argparse.Namespace, backward: bool) -> int:
    """Peak extra memory of one call, after a one-pair warm-up call."""
    return isolated(args.device, _correlation_memory, name, pairs, args.device, backward,
                    args.threads)


def benchmark_correlation(args: argparse.Namespace) -> None:
    print(f'\nCorrelation, C=64, 28x28, d=7, float32, {args.device}, {torch.get_num_threads()} '
          f'threads; interleaved rounds, median (min-max). Memory: peak extra over the inputs, in '
          'multiples of the output size.\n')
    print('| pairs | formulation | forward | forward+backward | fwd+bwd vs ours | '
          'memory fwd | memory fwd+bwd |')
    print('|---|---|---|---|---|---|---|')
    for pairs in args.pairs:
        names = [n for n in CORRELATIONS if n != 'unfold' or pairs <= args.unfold_max_pairs]
        results = {}
        for backward in (False, True):
            fns = {n: _correlation_call(n, pairs, args.device, backward) for n in names}
            repeats = {n: args.repeats if n != 'unfold' else 1 for n in names}
            times = {}
            for n in names:
                if repeats[n] == 1:
                    times[n] = interleaved_times({n: fns[n]}, 1, 0, args.device)[n]
            timed = {n: fns[n] for n in names if repeats[n] > 1}
            times.update(interleaved_times(timed, args.repeats, args.warmup, args.device))
            results[backward] = times
        output = pairs * 225 * 28 * 28 * 4
        for n in names:
            speed = Stats.of(results[True][n]).median / Stats.of(results[True]['ours']).median
            memory = [correlation_memory(n, pairs, args, b) / output for b in (False, True)]
            print(f'| {pairs} | {n} | {_fmt(Stats.of(results[False][n]))} | '
                  f'{_fmt(Stats.of(results[True][n]))} | {speed:.2f}x | {memory[0]:.2f} | '
                  f'{memory[1]:.2f} |', flush=True)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='*', help='CONFIG_A CONFIG_B')
    parser.add_argument('--correlation', action='store_true', help='the correlation benchmark')
    parser.add_argument('--frames', type=int, default=8)
    parser.add_argument('--shape', type=int, nargs=2, default=[224, 224], metavar=('H', 'W'))
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 8],
                        help='inference batch sizes (clips)')
    parser.add_argument('--train-batch', type=int, default=2, help='clips per training step')
    parser.add_argument('--precisions', nargs='+', choices=['fp32', 'amp'], default=['fp32', 'amp'])
    parser.add_argument('--pairs', type=int, nargs='+', default=[56, 240])
    parser.add_argument('--unfold-max-pairs', type=int, default=56,
                        help='skip the unfold formulation (GBs of memory) above this')
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    args = parser.parse_args(argv)
    if not args.correlation and len(args.configs) != 2:
        parser.error('give CONFIG_A CONFIG_B, or --correlation')
    return args


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    if keep_freed_memory(args.device):
        print('glibc malloc keeps freed memory, as tools/train.py and tools/test.py set it on CPU '
              f'({ENABLE_ENV}=0 keeps its defaults).')
    if args.configs:
        benchmark_models(args)
    if args.correlation:
        benchmark_correlation(args)


if __name__ == '__main__':
    main()
