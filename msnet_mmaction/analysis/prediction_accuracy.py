"""Accuracy of dumped predictions (the ``--dump`` files of ``tools/test.py``)."""
from typing import Dict, Tuple

import mmengine
import numpy as np


def load_predictions(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Class scores (N, K) and ground-truth labels (N,) from a ``--dump`` results file."""
    results = mmengine.load(path)
    if not results or 'pred_score' not in results[0] or 'gt_label' not in results[0]:
        raise ValueError(f'{path} holds no predictions with pred_score and gt_label')
    scores = np.stack([np.asarray(r['pred_score'], dtype=np.float64) for r in results])
    labels = np.array([int(np.asarray(r['gt_label']).reshape(-1)[0]) for r in results])
    return scores, labels


def accuracy_report(scores: np.ndarray, labels: np.ndarray) -> Dict[str, float]:
    """Top-1, top-5 (top-k for fewer than five classes) and mean class accuracy, in [0, 1]."""
    ranked = np.argsort(-scores, axis=1)
    k = min(5, scores.shape[1])
    hits = ranked == labels[:, None]
    correct = hits[:, 0]
    per_class = [correct[labels == c].mean() for c in np.unique(labels)]
    return dict(top1=float(correct.mean()), top5=float(hits[:, :k].any(axis=1).mean()),
                mean_class=float(np.mean(per_class)))
