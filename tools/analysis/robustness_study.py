"""Does the main job's recipe hold on kinds of motion data it was not tuned on? MSNet, TSM and TSN
trained at the main job's budget on datasets that each differ from the main job's in one property.

    python tools/analysis/robustness_study.py [--settings NAME ...] [--seeds 0 1 2]

The main job's data are direction clips at 4 px per frame, objects at 5-7 per frame area, 64 px,
a smooth background. Each setting changes one of those (see ``SETTINGS``); the source-resolution
setting renders at 128 px with the speed doubled, so that the clips the pipeline resizes to 64 px
move at the main job's 4 px per frame. Every run uses the synthetic-motion configs as they are
(the recipe under test) for ``--iters`` iterations of ``--batch`` new clips, and is evaluated on
``--val-clips`` held-out clips (:mod:`msnet_mmaction.analysis.equal_budget`). A run that finished
in the work dir with the same resolved config, seed, data and overrides is reused, so an
interrupted study resumes and one run again after a config changed trains afresh. At the end the
tool writes ``robustness.md``: held-out top-1, mean ± std over the seeds, per setting and model,
the mean over the settings, and whether MSNet is ahead of TSM in each setting; and every run's
figures (``results.json``).
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Sequence

import numpy as np

from motion_study import CONFIGS, LABELS, REPO, class_count, point_runs, run_options
from msnet_mmaction.analysis.equal_budget import Run, run_all, write_results

#: The main job's generator options.
MAIN_JOB = ['--speed', '4', '4', '--density', '5', '7']
#: Each setting: (what differs from the main job's data, generator options replacing its own).
SETTINGS: Dict[str, List[str]] = {
    'speed 2 px': ['--speed', '2', '2', '--density', '5', '7'],
    'speed 6 px': ['--speed', '6', '6', '--density', '5', '7'],
    'small objects': ['--speed', '4', '4', '--density', '5', '7', '--object-size', '0.08', '0.15'],
    'dense objects': ['--speed', '4', '4', '--density', '10', '14'],
    'textured background': MAIN_JOB + ['--background', 'textured'],
    'source 128 px': ['--speed', '8', '8', '--density', '5', '7', '--size', '128'],
    'relative motion': MAIN_JOB + ['--task', 'relative'],
}


def make_data(work_dir: str, setting: str, args: argparse.Namespace) -> str:
    """The dataset of ``setting``, generated unless it is there."""
    root = osp.join(work_dir, 'data', setting.replace(' ', '_'))
    if not osp.isfile(osp.join(root, 'label_map.txt')):
        command = [sys.executable, 'tools/data/make_synthetic_motion.py', '--out', root,
                   '--formats', 'rawframes', '--train-clips', str(args.iters * args.batch),
                   '--val-clips', str(args.val_clips), *SETTINGS[setting]]
        with open(osp.join(work_dir, 'generate.log'), 'a') as log:
            subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=True)
    return root


def _cell(values: np.ndarray) -> str:
    """Mean ± std of a setting's seeds; the value alone for one seed, '-' for none."""
    if values.size == 0:
        return '-'
    return f'{values.mean():.1f}' + (f' ± {values.std():.1f}' if values.size > 1 else '')


def format_robustness_table(results: Sequence[dict], settings: Sequence[str],
                            models: Sequence[str]) -> str:
    """Markdown: one row per setting, mean ± std of held-out top-1 per model, chance, and whether
    MSNet's mean is ahead of TSM's; then the mean over the settings."""
    def top1(setting: str, model: str) -> np.ndarray:
        return np.array([r['top1'] for r in results
                         if r['setting'] == setting and r['model'] == model])

    lines = ['| setting | ' + ' | '.join(LABELS[m] for m in models) +
             ' | chance | MSNet ahead of TSM |', '|---' * (len(models) + 3) + '|']
    for setting in settings:
        cells = [_cell(top1(setting, m)) for m in models]
        classes = {r['classes'] for r in results if r['setting'] == setting}
        chance = f'{100 / classes.pop():.1f}' if len(classes) == 1 else '-'
        ahead = '-'
        if top1(setting, 'msnet').size and top1(setting, 'tsm').size:
            ahead = 'yes' if top1(setting, 'msnet').mean() > top1(setting, 'tsm').mean() else 'no'
        lines.append(f'| {setting} | ' + ' | '.join(cells) + f' | {chance} | {ahead} |')
    means = [np.mean([top1(s, m).mean() for s in settings if top1(s, m).size] or [np.nan])
             for m in models]
    lines.append('| mean over the settings | ' + ' | '.join(f'{v:.1f}' for v in means) +
                 ' | | |')
    seeds_of = {m: sorted({r['seed'] for r in results if r['model'] == m}) for m in models}
    seeds = '; '.join(f'{LABELS[m]} {", ".join(map(str, seeds_of[m]))}' for m in models)
    lines.append(f'\nHeld-out top-1 in %, mean ± std over the seeds ({seeds}).')
    return '\n'.join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--settings', nargs='+', choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument('--models', nargs='+', choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--iters', type=int, default=150, help='training iterations (one pass)')
    parser.add_argument('--batch', type=int, default=8, help='clips per iteration')
    parser.add_argument('--val-clips', type=int, default=200)
    parser.add_argument('--jobs', type=int, default=2, help='runs at a time')
    parser.add_argument('--work-dir', default='work_dirs/robustness')
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    runs, points = [], {}
    for setting in args.settings:
        root = make_data(args.work_dir, setting, args)
        options = run_options(root, args.iters, args.batch)
        folder = osp.join(args.work_dir, 'runs', setting.replace(' ', '_'))
        for model, run in point_runs(folder, root, options, args.models, args.seeds):
            runs.append(run)
            points[run] = (setting, model)
    print(f'{len(runs)} runs, {args.jobs} at a time (finished ones reused)', flush=True)

    def row(run: Run, result: dict) -> dict:
        setting, model = points[run]
        return dict(setting=setting, model=model, seed=run.seed, top1=result['top1'],
                    classes=class_count(run.data_root), iterations=result['iterations'],
                    batch_size=result['batch_size'], train_clips=result['train_clips'],
                    val_clips=result['val_clips'], generator=SETTINGS[setting])

    def report(run: Run, result: dict) -> None:
        setting, model = points[run]
        print(f'{setting} {model} seed {run.seed}: {result["top1"]:.2f} %', flush=True)

    results = [row(run, result) for run, result in zip(runs, run_all(runs, args.jobs, report))]
    write_results(args.work_dir, results)
    table = format_robustness_table(results, args.settings, args.models)
    budget = f'{args.iters} iterations of {args.batch} clips, {args.val_clips} held-out clips'
    with open(osp.join(args.work_dir, 'robustness.md'), 'w') as f:
        f.write(f'{budget}\n\n{table}\n')
    print(f'\n{budget}\n\n{table}\n\nwrote {args.work_dir}/robustness.md and results.json')


if __name__ == '__main__':
    main()
