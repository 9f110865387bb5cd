"""Data transforms the MSNet recipes need beyond MMAction2's own."""
from typing import Iterable

from mmaction.datasets.transforms import Flip
from mmaction.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SelectiveFlip(Flip):
    """``Flip``, except for samples whose label names a direction: those are never flipped.

    Something-Something's "pushing something from left to right" becomes another class when
    mirrored; the MSNet recipe leaves such clips unflipped (rather than swapping their labels, as
    ``Flip(flip_label_map=...)`` does). The random draw happens for every sample, so the random
    stream does not depend on the labels.

    Args:
        keep_labels (Iterable[int]): Labels that are never flipped.
        **kwargs: Passed to :class:`mmaction.datasets.transforms.Flip`.
    """

    def __init__(self, keep_labels: Iterable[int] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.keep_labels = frozenset(int(label) for label in keep_labels)

    def transform(self, results: dict) -> dict:
        if int(results['label']) not in self.keep_labels:
            return super().transform(results)
        flip_ratio, self.flip_ratio = self.flip_ratio, 0.0
        try:
            return super().transform(results)
        finally:
            self.flip_ratio = flip_ratio

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, keep_labels={sorted(self.keep_labels)})'
