"""Fuse the predictions of several test runs (e.g. 8 and 16 frames) by averaging class scores.

    python tools/ensemble.py RESULTS.pkl RESULTS.pkl [...] [--weights W W ...] [--softmax]
        [--out FUSED.pkl]

Each RESULTS.pkl is a ``tools/test.py --dump`` file of the same test list in the same order.
Prints top-1, top-5 and mean class accuracy of every input and of the fusion, as the paper's
MSNet-R50En rows are computed.
"""
import argparse
from typing import Optional, Sequence

import mmengine
import numpy as np

from msnet_mmaction.analysis.prediction_accuracy import accuracy_report, load_predictions


def fuse_scores(scores: Sequence[np.ndarray], weights: Optional[Sequence[float]] = None,
                softmax: bool = False) -> np.ndarray:
    """Weighted mean of (N, K) score arrays; with ``softmax``, of their softmax over classes."""
    if len({s.shape for s in scores}) != 1:
        raise ValueError(f'score arrays differ in shape: {[s.shape for s in scores]}')
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(weights) != len(scores) or weights.sum() <= 0:
        raise ValueError('need one non-negative weight per input, not all zero')
    if softmax:
        scores = [np.exp(s - s.max(axis=1, keepdims=True)) for s in scores]
        scores = [s / s.sum(axis=1, keepdims=True) for s in scores]
    return sum(w * s for w, s in zip(weights, scores)) / weights.sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('results', nargs='+', help='tools/test.py --dump files')
    parser.add_argument('--weights', nargs='+', type=float, help='one weight per file (default 1)')
    parser.add_argument('--softmax', action='store_true',
                        help='apply softmax to each file\'s scores first (for raw logits)')
    parser.add_argument('--out', help='write the fused predictions here (.pkl)')
    args = parser.parse_args()
    if len(args.results) < 2:
        parser.error('give at least two results files')
    loaded = [load_predictions(path) for path in args.results]
    labels = loaded[0][1]
    for path, (_, other) in zip(args.results[1:], loaded[1:]):
        if not np.array_equal(other, labels):
            raise SystemExit(f'error: {path} does not list the same clips, in the same order, '
                             f'as {args.results[0]}')
    fused = fuse_scores([scores for scores, _ in loaded], args.weights, args.softmax)
    rows = [(path, accuracy_report(s, labels)) for path, (s, _) in zip(args.results, loaded)]
    rows.append(('ensemble', accuracy_report(fused, labels)))
    width = max(len(name) for name, _ in rows)
    print(f'{"":{width}}  top-1    top-5    mean class   ({len(labels)} clips)')
    for name, report in rows:
        print(f'{name:{width}}  {100 * report["top1"]:6.2f}   {100 * report["top5"]:6.2f}   '
              f'{100 * report["mean_class"]:6.2f}')
    if args.out:
        mmengine.dump([dict(pred_score=s, gt_label=np.array([y])) for s, y in zip(fused, labels)],
                      args.out)


if __name__ == '__main__':
    main()
