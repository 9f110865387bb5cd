"""Train several configs with the same budget, evaluate each, and print one table.

    python tools/compare_models.py CONFIG [CONFIG ...] [--work-dir DIR] [--train-subset N]
        [--seed S] [--reuse] [--cfg-options KEY=VALUE ...]

Each config is trained with ``tools/train.py`` and its best checkpoint tested with ``tools/test.py``
twice: on the held-out val split (the accuracy that counts) and on the first N training clips, so
that the table states the train/val gap. Runs go one after another; the wall time of each training
is in the table. With ``--reuse``, a config whose folder under the work dir already holds a best
checkpoint is only evaluated (its training time is then unknown and shown as "-").
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

from mmengine.config import Config, DictAction

from msnet_mmaction.evaluation import accuracy_report, load_predictions

TOOLS = osp.dirname(osp.abspath(__file__))


def _run(args: List[str]) -> None:
    print('+', ' '.join(args), flush=True)
    subprocess.run([sys.executable, *args], check=True)


def _options(options: Dict[str, object]) -> List[str]:
    return ['--cfg-options', *(f'{k}={v}' for k, v in options.items())] if options else []


def _best_checkpoint(train_dir: str) -> Optional[str]:
    if not osp.isdir(train_dir):
        return None
    best = [f for f in os.listdir(train_dir) if f.startswith('best_') and f.endswith('.pth')]
    return max((osp.join(train_dir, f) for f in best), key=osp.getmtime, default=None)


def compare(config: str, work_dir: str, train_subset: int, seed: int, options: Dict[str, object],
            reuse: bool = False) -> Dict[str, object]:
    """Train and test one config; accuracies in percent, training time in seconds."""
    name = osp.splitext(osp.basename(config))[0]
    train_dir = osp.join(work_dir, name)
    checkpoint = _best_checkpoint(train_dir) if reuse else None
    train_time = None
    if checkpoint is None:
        start = time.time()
        _run([osp.join(TOOLS, 'train.py'), config, '--work-dir', train_dir, '--seed', str(seed),
              *_options(options)])
        train_time = time.time() - start
        checkpoint = _best_checkpoint(train_dir)
    cfg = Config.fromfile(config)
    train_ann = cfg.train_dataloader.dataset.ann_file
    row = dict(model=name, train_time=train_time)
    for split, extra in (('val', {}), ('train', {'test_dataloader.dataset.ann_file': train_ann,
                                                  'test_dataloader.dataset.indices': train_subset})):
        dump = osp.join(train_dir, f'predictions_{split}.pkl')
        _run([osp.join(TOOLS, 'test.py'), config, checkpoint, '--work-dir',
              osp.join(train_dir, f'test_{split}'), '--dump', dump,
              *_options({**options, **extra})])
        report = accuracy_report(*load_predictions(dump))
        row.update({f'{split}_{k}': 100 * v for k, v in report.items()})
    return row


def format_table(rows: List[Dict[str, object]]) -> str:
    """A Markdown table of :func:`compare` rows."""
    lines = ['| config | val top-1 | val top-5 | val mean class | train top-1 | train - val | '
             'train time |', '|---|---|---|---|---|---|---|']
    for r in rows:
        train_time = '-' if r['train_time'] is None else f'{r["train_time"]:.0f} s'
        lines.append(f'| {r["model"]} | {r["val_top1"]:.2f} | {r["val_top5"]:.2f} | '
                     f'{r["val_mean_class"]:.2f} | {r["train_top1"]:.2f} | '
                     f'{r["train_top1"] - r["val_top1"]:+.2f} | {train_time} |')
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+', help='config files, trained in this order')
    parser.add_argument('--work-dir', default='work_dirs/compare', help='one sub-folder per config')
    parser.add_argument('--train-subset', type=int, default=400,
                        help='training clips to measure train accuracy on')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--reuse', action='store_true',
                        help='evaluate, without retraining, configs that already have a best checkpoint')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides applied to every config')
    args = parser.parse_args()
    rows = [compare(c, args.work_dir, args.train_subset, args.seed, args.cfg_options, args.reuse)
            for c in args.configs]
    table = format_table(rows)
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'table.md'), 'w') as f:
        f.write(table + '\n')
    print('\n' + table)


if __name__ == '__main__':
    main()
