"""Side-by-side speed and memory of two configs (MSNet vs its TSM twin), and of the operators.

    python tools/analysis/benchmark.py CONFIG_A CONFIG_B [--frames 8] [--shape 224 224]
        [--batches 1 8] [--train-batch 2] [--precisions fp32 amp] [--repeats 7] [--warmup 2]
        [--compile] [--compile-mode default|reduce-overhead|max-autotune] [--compile-backend B]
        [--device cpu|cuda] [--threads N]
    python tools/analysis/benchmark.py --ops [correlation soft-argmax] [--pairs 56 240]
        [--device cpu|cuda]

Models: in one process, the two models are timed in alternating rounds (inference at each batch
size, and a training step: forward, backward and SGD step). With ``--compile`` the two models
under ``torch.compile`` join the same rounds, so the table also gives compiled A / compiled B and
compiled A / eager A; warm-up rounds include the compilation. On CPU, malloc is set up as the
training and test tools set it (``keep_freed_memory``). Peak memory (eager) is CUDA's max
allocated or, on CPU, the rise of the resident set's high-water mark during a training step
(after one warm-up step) in a fresh process per model. Mixed precision is bfloat16 autocast on
CPU and float16 autocast with loss scaling on CUDA, through the optimizer wrappers that
``tools/train.py --amp`` uses. The output gives min/median/max per model and the per-round
ratios.

Operators: each operator (``operator``: the device's hand-written kernel) against its reference
formulation run eagerly (``reference``) and as Inductor compiles it (``reference, Inductor``),
and, for the correlation, an unfold (im2col) formulation and a full matrix product followed by a
gather, at MSNet-R50's shapes (C=64, 28x28, d=7; pairs = batch x (T-1)).
"""
import argparse
import os.path as osp
from functools import partial
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F

import msnet_mmaction  # noqa: F401
from msnet_mmaction.analysis import correlation_matmul_gather, correlation_unfold
from msnet_mmaction.apis import amp_dtype, build_recognizer
from msnet_mmaction.analysis.benchmark import (Stats, autocast, in_fresh_process,
                                               interleaved_times, peak_memory, ratio_stats)
from msnet_mmaction.engine import keep_freed_memory
from msnet_mmaction.engine.malloc import ENABLE_ENV
from msnet_mmaction.ops import kernel_soft_argmax, local_correlation


def preprocessed_batch(model: torch.nn.Module, clips: int, frames: int, shape,
                       device: str) -> dict:
    """Random uint8 clips with label 0, through ``model``'s data preprocessor."""
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
    model = build_recognizer(config, frames, device).train()
    data = preprocessed_batch(model, batch, frames, shape, device)
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


def _ratio(times: Dict[str, List[float]], a: str, b: str) -> str:
    ratio = ratio_stats(times[a], times[b])
    return f'{ratio.median:.3f} ({ratio.min:.3f}-{ratio.max:.3f})'


def benchmark_models(args: argparse.Namespace) -> None:
    """Eager A vs B and, with ``--compile``, compiled A vs compiled B and compiled A vs eager A,
    all four timed in the same interleaved rounds."""
    config_a, config_b = args.configs
    name_a, name_b = (osp.splitext(osp.basename(c))[0] for c in args.configs)
    models = {'A': build_recognizer(config_a, args.frames, args.device),
              'B': build_recognizer(config_b, args.frames, args.device)}
    variants = {name: model for name, model in models.items()}
    if args.compile:
        options = dict(backend=args.compile_backend)
        if args.compile_backend == 'inductor':
            options['mode'] = args.compile_mode
        variants.update({f'{name} compiled': torch.compile(model, **options)
                         for name, model in models.items()})
    compiled = (f', torch.compile({", ".join(f"{k}={v!r}" for k, v in options.items())})'
                if args.compile else '')
    print(f'\n{name_a} (A) vs {name_b} (B): {args.frames} frames, {args.shape[0]}x{args.shape[1]}, '
          f'{args.device}, {torch.get_num_threads()} threads{compiled}; {args.repeats} interleaved '
          f'rounds after {args.warmup} warm-up; median (min-max).\n')
    columns = ['A', 'B', 'A / B'] + (['A compiled', 'B compiled', 'A / B compiled',
                                      'A compiled / A'] if args.compile else [])
    print('| measure | precision | ' + ' | '.join(columns) + ' |')
    print('|---' * (len(columns) + 2) + '|')
    for precision in args.precisions:
        dtype = amp_dtype(args.device) if precision == 'amp' else None
        label = {None: 'fp32'}.get(dtype, str(dtype).replace('torch.', ''))
        cases: Dict[str, Dict[str, Callable]] = {}
        for batch in args.batches:
            cases[f'inference, batch {batch}'] = {
                name: inference_fn(m, preprocessed_batch(models[name[0]], batch, args.frames,
                                                         args.shape, args.device),
                                   dtype, args.device)
                for name, m in variants.items()}
        cases[f'train step, batch {args.train_batch}'] = {
            name: train_fn(m, preprocessed_batch(models[name[0]], args.train_batch, args.frames,
                                                 args.shape, args.device), dtype, args.device)
            for name, m in variants.items()}
        for measure, fns in cases.items():
            for model in models.values():
                model.train('train' in measure)
            # Compiled models compile in the first warm-up round, and recompile once in the second:
            # the reused data samples then carry the predictions of the first.
            warmup = max(args.warmup, 2) if args.compile else args.warmup
            times = interleaved_times(fns, args.repeats, warmup, args.device)
            cells = [_fmt(Stats.of(times['A'])), _fmt(Stats.of(times['B'])),
                     _ratio(times, 'A', 'B')]
            if args.compile:
                cells += [_fmt(Stats.of(times['A compiled'])), _fmt(Stats.of(times['B compiled'])),
                          _ratio(times, 'A compiled', 'B compiled'),
                          _ratio(times, 'A compiled', 'A')]
            print(f'| {measure} | {label} | ' + ' | '.join(cells) + ' |', flush=True)
        memory = [train_peak_memory(c, args, precision) for c in args.configs]
        kind = 'max allocated' if args.device.startswith('cuda') else 'peak RSS growth'
        cells = [f'{memory[0] / 2**20:.0f} MiB', f'{memory[1] / 2**20:.0f} MiB',
                 f'{memory[0] / max(memory[1], 1):.3f}'] + ['-'] * (len(columns) - 3)
        print(f'| train step peak memory ({kind}, eager) | {label} | ' + ' | '.join(cells) + ' |',
              flush=True)


def _reference_compiled(fn: Callable) -> Callable:
    """``fn`` under ``torch.compile`` (Inductor), compiled on first call."""
    return torch.compile(fn, dynamic=False)


FORMULATIONS = {
    'correlation': {
        'operator': local_correlation,
        'reference': partial(local_correlation, implementation='reference'),
        'reference, Inductor': partial(local_correlation, implementation='reference'),
        'unfold': correlation_unfold,
        'matmul-gather': correlation_matmul_gather},
    'soft-argmax': {
        'operator': kernel_soft_argmax,
        'reference': partial(kernel_soft_argmax, implementation='reference'),
        'reference, Inductor': partial(kernel_soft_argmax, implementation='reference')},
}


def _op_inputs(op: str, pairs: int, device: str, backward: bool) -> tuple:
    """MSNet-R50's inputs at 28x28: normalised 64-channel features, or their correlation."""
    generator = torch.Generator().manual_seed(0)
    a = F.normalize(torch.randn(pairs, 64, 28, 28, generator=generator), dim=1)
    b = F.normalize(a + 0.5 * torch.randn(a.shape, generator=generator), dim=1)
    if op == 'correlation':
        return tuple(x.to(device).requires_grad_(backward) for x in (a, b))
    return local_correlation(a, b, 7).to(device).requires_grad_(backward),


def _op_call(op: str, name: str, pairs: int, device: str, backward: bool) -> Callable:
    inputs = _op_inputs(op, pairs, device, backward)
    fn = FORMULATIONS[op][name]
    if name.endswith('Inductor'):
        fn = _reference_compiled(fn)

    def run():
        if not backward:
            with torch.no_grad():
                return fn(*inputs, 7)
        outputs = fn(*inputs, 7)
        outputs = (outputs, ) if isinstance(outputs, torch.Tensor) else outputs
        torch.autograd.backward(outputs, [torch.ones_like(t) for t in outputs])
        for x in inputs:
            x.grad = None
    return run


def _op_memory(op: str, name: str, pairs: int, device: str, backward: bool, threads: int) -> int:
    torch.set_num_threads(threads)
    run = _op_call(op, name, pairs, device, backward)
    run()  # warm-up (and compilation)
    return peak_memory(run, device)


def benchmark_ops(args: argparse.Namespace) -> None:
    """Each operator against its reference, eager and under Inductor (and, for the correlation,
    two independent formulations), at MSNet-R50's shapes."""
    print(f'\nOperators at C=64, 28x28, d=7, float32, {args.device}, {torch.get_num_threads()} '
          f'threads; {args.repeats} interleaved rounds after {args.warmup} warm-up (compilation '
          'included there), median (min-max). Memory: peak extra over the inputs, in multiples of '
          'the correlation volume.\n')
    print('| op | pairs | formulation | forward | forward+backward | fwd+bwd vs operator | '
          'memory fwd | memory fwd+bwd |')
    print('|---|---|---|---|---|---|---|---|')
    for op in args.ops:
        for pairs in args.pairs:
            names = [n for n in FORMULATIONS[op] if n != 'unfold' or pairs <= args.unfold_max_pairs]
            results = {}
            for backward in (False, True):
                fns = {n: _op_call(op, n, pairs, args.device, backward) for n in names}
                slow = {n: fns.pop(n) for n in list(fns) if n == 'unfold'}
                # At least one warm-up round: the Inductor rows compile in their first call.
                times = interleaved_times(fns, args.repeats, max(args.warmup, 1), args.device)
                for n, fn in slow.items():
                    times.update(interleaved_times({n: fn}, 1, 0, args.device))
                results[backward] = times
            volume = pairs * 225 * 28 * 28 * 4
            for n in names:
                speed = (Stats.of(results[True][n]).median /
                         Stats.of(results[True]['operator']).median)
                memory = [isolated(args.device, _op_memory, op, n, pairs, args.device, b,
                                   args.threads) / volume for b in (False, True)]
                print(f'| {op} | {pairs} | {n} | {_fmt(Stats.of(results[False][n]))} | '
                      f'{_fmt(Stats.of(results[True][n]))} | {speed:.2f}x | {memory[0]:.2f} | '
                      f'{memory[1]:.2f} |', flush=True)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='*', help='CONFIG_A CONFIG_B')
    parser.add_argument('--ops', nargs='*', choices=list(FORMULATIONS),
                        help='the operator benchmark (default: both operators)')
    parser.add_argument('--compile', action='store_true',
                        help='also time both models under torch.compile')
    parser.add_argument('--compile-mode', default='default',
                        choices=['default', 'reduce-overhead', 'max-autotune'])
    parser.add_argument('--compile-backend', default='inductor',
                        help='torch.compile backend (aot_eager: without generated code)')
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
    if args.ops == []:
        args.ops = list(FORMULATIONS)
    if args.ops is None and len(args.configs) != 2:
        parser.error('give CONFIG_A CONFIG_B, or --ops')
    return args


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    if keep_freed_memory(args.device):
        print('glibc malloc keeps freed memory, as tools/train.py and tools/test.py set it on CPU '
              f'({ENABLE_ENV}=0 keeps its defaults).')
    if args.configs:
        benchmark_models(args)
    if args.ops:
        benchmark_ops(args)


if __name__ == '__main__':
    main()
