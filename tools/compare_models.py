"""Train several configs with the same budget and seeds, test each, print one table and plot the
learning curves.

    python tools/compare_models.py CONFIG [CONFIG ...] [--seeds 0 1 2] [--control CONFIG ...]
        [--jobs 2] [--work-dir DIR] [--data-root DIR] [--cfg-options KEY=VALUE ...]

Each config and seed is trained with ``tools/train.py`` and evaluated on the held-out list by the
config's validation loop at the end (``msnet_mmaction.analysis.equal_budget``); each ``--control``
config is trained with the first seed only. Runs go ``--jobs`` at a time, with the cores shared
out among them. A run that already validated in the work dir with the same resolved config,
seed, data root and overrides is reused, so an interrupted comparison resumes; one left by anything
else is trained again. The table (also ``table.md``) gives held-out top-1 per seed and its mean and
spread, then the first config's lead over each other one; ``curves.png`` plots the accuracy of
the training batches against the iteration (averaged over ``--curve-window`` iterations), which
is accuracy on unseen clips when every training clip is new.
"""
import argparse
import os
import os.path as osp
import time

from mmengine.config import DictAction

from msnet_mmaction.analysis.equal_budget import (Run, format_budget, format_leads, format_table,
                                                  plot_curves, run_all, write_results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+',
                        help='config files; the first is compared with each other one')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--control', nargs='+', default=[],
                        help='configs trained with the first seed only: a reference point such '
                        'as an order-blind TSN, compared like the others on that seed')
    parser.add_argument('--jobs', type=int, default=1, help='runs at a time')
    parser.add_argument('--work-dir', default='work_dirs/compare',
                        help='one sub-folder per config and seed')
    parser.add_argument('--data-root', help='MSNET_SYNTHETIC_ROOT for the synthetic configs')
    parser.add_argument('--title', default='', help='title of the plot')
    parser.add_argument('--curve-window', type=int, default=10,
                        help='iterations each point of the learning curves averages over '
                        '(log every iteration for it to average several batches)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides applied to every config')
    args = parser.parse_args()
    options = tuple(f'{k}={v}' for k, v in args.cfg_options.items())

    def training(config: str, seed: int) -> Run:
        name = osp.splitext(osp.basename(config))[0]
        return Run(config, seed, osp.join(args.work_dir, name, f'seed{seed}'), args.data_root,
                   options)

    compared = [training(config, seed) for seed in args.seeds for config in args.configs]
    controls = [training(config, args.seeds[0]) for config in args.control]
    start = time.time()

    def report(run: Run, result: dict) -> None:
        print(f'{run.name} seed {run.seed}: held-out top-1 {result["top1"]:.2f} % '
              f'({time.time() - start:.0f} s into the comparison)', flush=True)

    # Controls start first: with several jobs, a run left to start last may run alone at the end.
    results = run_all(controls + compared, args.jobs, report)
    results = results[len(controls):] + results[:len(controls)]
    table = '\n'.join([format_budget(results), '', format_table(results), ''] +
                      format_leads(results))
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'table.md'), 'w') as f:
        f.write(table + '\n')
    write_results(args.work_dir, results)
    plot_curves(results, osp.join(args.work_dir, 'curves.png'), args.title,
                window=args.curve_window)
    print('\n' + table)
    print(f'\nwrote {args.work_dir}/table.md, results.json and curves.png')


if __name__ == '__main__':
    main()
