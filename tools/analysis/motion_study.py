"""Where explicit motion pays: MSNet, TSM and TSN trained at equal budget across a sweep of one
property of the synthetic motion dataset.

    python tools/analysis/motion_study.py speed --values 1 2 4 8 16 --generator --density 5 7
    python tools/analysis/motion_study.py coherence --values 0.6 0.3 --generator --speed 4 4

For every value of the swept property the tool generates a dataset
(``tools/data/make_synthetic_motion.py`` with the value, 64 px frames by default, and the other
generator options from ``--generator``), then trains each model for ``--iters`` iterations of
``--batch`` new clips (one pass, each clip seen once) with every seed, through ``tools/train.py``,
and evaluates it on the held-out clips (:mod:`msnet_mmaction.analysis.equal_budget`). The models differ only in their temporal
modelling: the synthetic-motion configs, ResNet-18 from scratch, AdamW and a cosine schedule.

Each run keeps its checkpoint and logs in the work dir, and a run that finished there with the
same resolved config, seed, data and overrides is reused: an interrupted study resumes where it
stopped, and one run again after a config changed trains afresh. At the end the tool prints the
mean and standard deviation of held-out top-1 per model and value and writes them (``study.md``)
with a plot (``study.png``: accuracy against the property, one line per model, the seeds' spread
shaded) and every run's figures (``results.json``).
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from msnet_mmaction.analysis.equal_budget import Run, accuracy_plot, run_all, write_results

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

CONFIGS = {name: osp.join(REPO, 'configs', f'{name}_r18_8f_synthetic-motion.py')
           for name in ('msnet', 'tsm', 'tsn')}
LABELS = {'msnet': 'MSNet', 'tsm': 'TSM', 'tsn': 'TSN'}
SWEEPS = {
    'speed': ('speed (px per frame)', lambda v: ['--speed', f'{v:g}', f'{v:g}']),
    'coherence': ('coherence (fraction of objects moving with the label)',
                  lambda v: ['--coherence', f'{v:g}']),
    'object-size': ('object side (fraction of the frame)',
                    lambda v: ['--object-size', f'{v:g}', f'{v:g}']),
}


def point_name(sweep: str, value: float) -> str:
    return f'{sweep}={value:g}'


def make_data(args: argparse.Namespace, value: float) -> str:
    """The dataset of one value of the sweep, generated unless it is there."""
    root = osp.join(args.work_dir, 'data', point_name(args.sweep, value))
    if not osp.isfile(osp.join(root, 'label_map.txt')):
        command = [sys.executable, 'tools/data/make_synthetic_motion.py', '--out', root,
                   '--formats', 'rawframes', '--train-clips', str(args.iters * args.batch),
                   '--val-clips', str(args.val_clips), '--size', str(args.size),
                   *args.generator, *SWEEPS[args.sweep][1](value)]
        with open(osp.join(args.work_dir, 'generate.log'), 'a') as log:
            subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=True)
    return root


def class_count(root: str) -> int:
    with open(osp.join(root, 'label_map.txt')) as f:
        return len([line for line in f if line.strip()])


def run_options(root: str, iters: int, batch: int, extra: Sequence[str] = ()) -> Tuple[str, ...]:
    """The overrides every run on the dataset at ``root`` takes: the batch, the dataset's class
    count, no best-checkpoint tracking, and about ten log lines."""
    return (f'train_dataloader.batch_size={batch}',
            f'model.cls_head.num_classes={class_count(root)}',
            'default_hooks.checkpoint.save_best=None',
            f'default_hooks.logger.interval={max(iters // 10, 1)}', *extra)


def point_runs(folder: str, root: str, options: Sequence[str], models: Sequence[str],
               seeds: Sequence[int]) -> List[Tuple[str, Run]]:
    """(model, run) for every model and seed on the dataset at ``root``, each run in
    ``folder/<model>/seed<seed>``."""
    return [(model, Run(CONFIGS[model], seed, osp.join(folder, model, f'seed{seed}'), root,
                        tuple(options)))
            for seed in seeds for model in models]


def summarise(results: Sequence[dict]) -> Dict[Tuple[str, float], Tuple[float, float, int]]:
    """{(model, value): (mean, std, seeds)} of held-out top-1."""
    grouped: Dict[Tuple[str, float], List[float]] = {}
    for result in results:
        grouped.setdefault((result['model'], result['value']), []).append(result['top1'])
    return {key: (float(np.mean(v)), float(np.std(v)), len(v)) for key, v in grouped.items()}


def format_sweep_table(sweep: str, summary: dict, models: Sequence[str],
                       values: Sequence[float], chance: float) -> str:
    lines = [f'| {SWEEPS[sweep][0]} | ' + ' | '.join(LABELS[m] for m in models) + ' |',
             '|---' * (len(models) + 1) + '|']
    for value in values:
        cells = [f'{summary[(m, value)][0]:.1f} ± {summary[(m, value)][1]:.1f}'
                 if (m, value) in summary else '-' for m in models]
        lines.append(f'| {value:g} | ' + ' | '.join(cells) + ' |')
    seeds = sorted({n for *_, n in summary.values()})
    lines.append(f'\nHeld-out top-1 in %, mean ± std over {"/".join(map(str, seeds))} seeds; '
                 f'chance {chance:.1f} %.')
    return '\n'.join(lines)


def plot(path: str, sweep: str, summary: dict, models: Sequence[str], values: Sequence[float],
         chance: float, title: str) -> None:
    with accuracy_plot(path, title, SWEEPS[sweep][0], 'held-out top-1 (%)', chance) as axes:
        for model in models:
            points = [(v, *summary[(model, v)][:2]) for v in values if (model, v) in summary]
            if points:
                xs, means, stds = (np.array(column) for column in zip(*points))
                axes.plot(xs, means, marker='o', label=LABELS[model])
                axes.fill_between(xs, means - stds, means + stds, alpha=0.2)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('sweep', choices=list(SWEEPS))
    parser.add_argument('--values', type=float, nargs='+', required=True)
    parser.add_argument('--models', nargs='+', choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--iters', type=int, default=150, help='training iterations (one pass)')
    parser.add_argument('--batch', type=int, default=8, help='clips per iteration')
    parser.add_argument('--val-clips', type=int, default=200)
    parser.add_argument('--size', type=int, default=64, help='frame side in pixels')
    parser.add_argument('--jobs', type=int, default=2, help='runs at a time')
    parser.add_argument('--work-dir', default='work_dirs/motion_study')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='config overrides for every run, KEY=VALUE')
    parser.add_argument('--generator', nargs=argparse.REMAINDER, default=[],
                        help='options for make_synthetic_motion.py at every point (last)')
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    args.work_dir = osp.join(args.work_dir, args.sweep)
    os.makedirs(args.work_dir, exist_ok=True)
    runs, points = [], {}
    for value in args.values:
        root = make_data(args, value)
        options = run_options(root, args.iters, args.batch, args.cfg_options)
        folder = osp.join(args.work_dir, 'runs', point_name(args.sweep, value))
        for model, run in point_runs(folder, root, options, args.models, args.seeds):
            runs.append(run)
            points[run] = (value, model)
    print(f'{len(runs)} runs, {args.jobs} at a time (finished ones reused)', flush=True)

    def row(run: Run, result: dict) -> dict:
        value, model = points[run]
        return dict(sweep=args.sweep, value=value, model=model, seed=run.seed,
                    top1=result['top1'], train_seconds=result['train_seconds'],
                    classes=class_count(run.data_root), iters=args.iters, batch=args.batch,
                    generator=args.generator)

    def report(run: Run, result: dict) -> None:
        value, model = points[run]
        print(f'{point_name(args.sweep, value)} {model} seed {run.seed}: {result["top1"]:.2f} %',
              flush=True)

    results = [row(run, result) for run, result in zip(runs, run_all(runs, args.jobs, report))]
    write_results(args.work_dir, results)
    summary = summarise(results)
    chance = 100 / results[0]['classes']
    table = format_sweep_table(args.sweep, summary, args.models, args.values, chance)
    setting = (f'{args.iters} iterations of {args.batch} clips, {args.size} px'
               + (f', {" ".join(args.generator)}' if args.generator else ''))
    with open(osp.join(args.work_dir, 'study.md'), 'w') as f:
        f.write(f'{setting}\n\n{table}\n')
    plot(osp.join(args.work_dir, 'study.png'), args.sweep, summary, args.models, args.values,
         chance, setting)
    print(f'\n{setting}\n\n{table}\n\nwrote {args.work_dir}/study.md, study.png and results.json')


if __name__ == '__main__':
    main()
