"""Training configs at equal budget and comparing them: the engine of ``tools/compare_models.py``,
``tools/analysis/motion_study.py`` and the main job.

Each run trains one config with one seed in a subprocess through ``tools/train.py``'s entry point,
``python -m msnet_mmaction.apis.train`` (from the current directory, against which relative config
and data paths resolve), exactly as a user would, and is evaluated on the held-out list by the
config's validation loop at the end of training (the synthetic configs validate after their one
epoch). Runs go ``jobs`` at a time with the cores shared out among them (``OMP_NUM_THREADS``);
the data loaders run in the training process, so no worker competes for the cores either. A run
keeps its checkpoint and logs, so an interrupted comparison resumes without repeating it; a run
left by another config, seed, data root or override (:func:`run_identity`) is trained again from
an emptied work dir.
"""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import (Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence,
                    Tuple)

import numpy as np


#: Written into a run's work dir when it finishes: the :func:`run_identity` it was trained with.
IDENTITY_FILE = 'run_identity.json'
_PARSE_LOCK = threading.Lock()


class Run(NamedTuple):
    """One training: a config, a seed, its work dir, the data root and the config overrides."""
    config: str
    seed: int
    work_dir: str
    data_root: Optional[str] = None
    options: Tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return osp.splitext(osp.basename(self.config))[0]


def _parse_config(path: str):
    """``Config.fromfile(path)``, one thread at a time: MMEngine's parser is not thread-safe (its
    package look-ups through pkg_resources fail when two threads parse at once), and
    :func:`run_all`'s threads each parse their run's config."""
    from mmengine.config import Config
    with _PARSE_LOCK:
        return Config.fromfile(path)


def _python(args: List[str], env: Dict[str, str], log: str) -> None:
    with open(log, 'a') as out:
        out.write(f'+ {" ".join(args)}\n')
        out.flush()
        result = subprocess.run([sys.executable, *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise RuntimeError(f'{" ".join(args[:3])} exited with {result.returncode}; see {log}')


def _scalars(work_dir: str) -> List[dict]:
    """The records MMEngine logged for a run, in order."""
    records = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip()]
    return records


def learning_curve(work_dir: str) -> List[Tuple[int, float]]:
    """(iteration, top-1 in %) of the training batches as MMEngine logged them.

    MMEngine logs the accuracy of the batch of the logged iteration (only losses are averaged
    over a window). When every training clip is new (one pass), a batch is scored before the
    model learns from it: these are accuracies on unseen clips.
    """
    return [(int(r['step']), 100 * float(r['top1_acc'])) for r in _scalars(work_dir)
            if 'top1_acc' in r and 'step' in r]


def held_out_metrics(work_dir: str) -> Optional[Dict[str, float]]:
    """Top-1, top-5 and mean class accuracy (in %) of the last validation, if any."""
    validations = [r for r in _scalars(work_dir) if 'acc/top1' in r]
    if not validations:
        return None
    last = validations[-1]
    return dict(top1=100 * last['acc/top1'], top5=100 * last['acc/top5'],
                mean_class=100 * last['acc/mean1'])


def budget_used(work_dir: str) -> Dict[str, int]:
    """What a finished run trained and was tested on, read from what it left: the iterations it
    logged, its batch size and the clips in its training and held-out lists (from the config the
    runner wrote into ``work_dir``, with every override applied)."""
    (config, ) = glob.glob(osp.join(work_dir, '*.py'))
    cfg = _parse_config(config)

    def clips(loader) -> int:
        root = loader.dataset.get('data_root') or ''
        with open(osp.join(root, loader.dataset.ann_file)) as f:
            return sum(1 for line in f if line.strip())

    steps = [int(r['step']) for r in _scalars(work_dir) if 'loss' in r and 'step' in r]
    return dict(iterations=max(steps, default=0), batch_size=cfg.train_dataloader.batch_size,
                train_clips=clips(cfg.train_dataloader), val_clips=clips(cfg.val_dataloader))


def run_identity(run: Run) -> dict:
    """What a run's result depends on besides the data files: the config as resolved with its
    bases (a changed base config counts), the seed, the data root and the overrides."""
    cfg = _parse_config(run.config)
    return dict(config=json.loads(json.dumps(cfg.to_dict(), sort_keys=True, default=repr)),
                seed=run.seed, data_root=run.data_root, options=list(run.options))


def reusable_metrics(run: Run, identity: dict) -> Optional[Dict[str, float]]:
    """The held-out metrics ``run.work_dir`` holds if a run of the same :func:`run_identity`
    finished there; otherwise None, and the work dir is emptied so that another run's logs do not
    mix with the next one's."""
    path = osp.join(run.work_dir, IDENTITY_FILE)
    if osp.isfile(path):
        with open(path) as f:
            if json.load(f) == identity:
                return held_out_metrics(run.work_dir)
    if os.listdir(run.work_dir):
        print(f'{run.work_dir} holds a run of another config, seed, data root or overrides: '
              'training again', flush=True)
        shutil.rmtree(run.work_dir)
        os.makedirs(run.work_dir)
    return None


def train_and_test(run: Run, threads: int) -> dict:
    """Train ``run`` (or reuse what it left) and evaluate it on the held-out list: top-1, top-5 and
    mean class accuracy in %, the training time in seconds (None when reused), the learning curve
    and the budget actually used (:func:`budget_used`)."""
    os.makedirs(run.work_dir, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONWARNINGS='ignore')
    env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    if run.data_root:
        env['MSNET_SYNTHETIC_ROOT'] = run.data_root
    options = ['--cfg-options', 'train_dataloader.num_workers=0',
               'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
               'val_dataloader.persistent_workers=False', *run.options]
    seconds = None
    identity = run_identity(run)
    metrics = reusable_metrics(run, identity)
    if metrics is None:
        start = time.time()
        _python(['-m', 'msnet_mmaction.apis.train', run.config, '--work-dir', run.work_dir,
                 '--seed', str(run.seed), *options], env, osp.join(run.work_dir, 'run.log'))
        seconds = time.time() - start
        metrics = held_out_metrics(run.work_dir)
        if metrics is None:
            raise RuntimeError(f'{run.config} did not validate; give it a val_dataloader')
        with open(osp.join(run.work_dir, IDENTITY_FILE), 'w') as f:
            json.dump(identity, f)
    with open(osp.join(run.work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    return dict(model=run.name, seed=run.seed, checkpoint=checkpoint, train_seconds=seconds,
                curve=learning_curve(run.work_dir), **metrics, **budget_used(run.work_dir))


def run_all(runs: Sequence[Run], jobs: int,
            on_result: Optional[Callable[[Run, dict], None]] = None) -> List[dict]:
    """:func:`train_and_test` for every run, ``jobs`` at a time; results in the order of
    ``runs``. ``on_result`` is called as each run finishes."""
    threads = max(1, (os.cpu_count() or 1) // jobs)

    def one(run: Run) -> dict:
        result = train_and_test(run, threads)
        if on_result is not None:
            on_result(run, result)
        return result

    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(one, runs))


def write_results(work_dir: str, rows: Sequence[dict]) -> None:
    """Every run's figures, as the comparison or study computed them, to
    ``work_dir/results.json``."""
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(list(rows), f, indent=1)


def by_model(results: Iterable[dict]) -> Dict[str, List[dict]]:
    grouped: Dict[str, List[dict]] = {}
    for result in results:
        grouped.setdefault(result['model'], []).append(result)
    return grouped


def format_table(results: Sequence[dict]) -> str:
    """A Markdown table: per model, held-out top-1 of each seed, mean ± std (the mean alone for a
    single seed), top-5, and the mean training time."""
    lines = ['| config | top-1 per seed | top-1 mean ± std | top-5 mean | train time |',
             '|---|---|---|---|---|']
    for model, rows in by_model(results).items():
        top1 = np.array([r['top1'] for r in rows])
        seconds = [r['train_seconds'] for r in rows if r['train_seconds'] is not None]
        per_seed = ', '.join(f'{r["top1"]:.1f} ({r["seed"]})' for r in rows)
        time_cell = f'{np.mean(seconds):.0f} s' if seconds else '-'
        spread = f' ± {top1.std():.1f}' if len(rows) > 1 else ''
        lines.append(f'| {model} | {per_seed} | {top1.mean():.1f}{spread} | '
                     f'{np.mean([r["top5"] for r in rows]):.1f} | {time_cell} |')
    return '\n'.join(lines)


def format_budget(results: Sequence[dict]) -> str:
    """One sentence on what the runs trained and were tested on, from the runs themselves."""
    budgets = {(r['iterations'], r['batch_size'], r['train_clips'], r['val_clips'])
               for r in results}
    seeds = ', '.join(str(s) for s in sorted({r['seed'] for r in results}))
    if len(budgets) > 1:
        return f'Runs with different budgets {sorted(budgets)}; seeds {seeds}.'
    ((iterations, batch, train_clips, val_clips), ) = budgets
    return (f'{iterations} iterations of {batch} clips from {train_clips} training clips, seeds '
            f'{seeds}; held-out top-1 on {val_clips} clips.')


def format_leads(results: Sequence[dict]) -> List[str]:
    """How the first model compares with each other one, seed by seed: the mean difference of
    held-out top-1 in points and the seeds it is ahead in."""
    grouped = by_model(results)
    first, *others = grouped
    ours = {r['seed']: r['top1'] for r in grouped[first]}
    lines = []
    for other in others:
        theirs = {r['seed']: r['top1'] for r in grouped[other]}
        seeds = sorted(set(ours) & set(theirs))
        gaps = [ours[s] - theirs[s] for s in seeds]
        ahead = sum(gap > 0 for gap in gaps)
        over = f'mean of {len(seeds)} seeds' if len(seeds) > 1 else f'seed {seeds[0]}'
        lines.append(f'{first} - {other}: {np.mean(gaps):+.1f} points ({over}), '
                     f'ahead in {ahead} of {len(seeds)}')
    return lines


def trailing_mean(curve: Sequence[Tuple[int, float]], window: int) -> List[Tuple[int, float]]:
    """Each point of ``curve`` replaced by the mean of the points within the last ``window``
    iterations up to it (``window`` 1 keeps the curve)."""
    steps = np.array([step for step, _ in curve])
    values = np.array([value for _, value in curve])
    return [(int(step), float(values[(steps > step - window) & (steps <= step)].mean()))
            for step in steps]


@contextmanager
def accuracy_plot(path: str, title: str, xlabel: str, ylabel: str,
                  chance: Optional[float] = None) -> Iterator:
    """Matplotlib axes for accuracy curves in %; on exit the chance line (if given), labels and
    legend are added and the figure is saved to ``path`` (PNG)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(6, 4), dpi=120)
    try:
        yield axes
        if chance is not None:
            axes.axhline(chance, color='grey', linestyle=':', label='chance')
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        axes.set_ylim(0, 100)
        axes.set_title(title, fontsize=9)
        axes.legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(path)
    finally:
        plt.close(figure)


def plot_curves(results: Sequence[dict], path: str, title: str,
                chance: Optional[float] = None, window: int = 1) -> None:
    """Held-out top-1 against iteration, mean over the seeds per model, their spread shaded;
    each run's curve first averaged over trailing windows of ``window`` iterations."""
    with accuracy_plot(path, title, 'iteration', 'top-1 on clips not yet seen (%)',
                       chance) as axes:
        for model, rows in by_model(results).items():
            curves = [dict(trailing_mean(r['curve'], window)) for r in rows if r['curve']]
            steps = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
            if not steps:
                continue
            values = np.array([[c[s] for s in steps] for c in curves])
            axes.plot(steps, values.mean(0), label=model)
            axes.fill_between(steps, values.min(0), values.max(0), alpha=0.2)
