"""Data transforms the MSNet recipes need beyond MMAction2's own."""
from typing import Iterable, Optional, Sequence

from mmaction.datasets.transforms import Flip
from mmaction.registry import TRANSFORMS

from .label_map import class_ids


@TRANSFORMS.register_module()
class SelectiveFlip(Flip):
    """``Flip``, except for samples of classes whose mirror image is another class.

    Something-Something's "Pushing something from left to right" becomes "... from right to left"
    when mirrored; the MSNet recipe leaves such clips unflipped (rather than swapping their labels,
    as ``Flip(flip_label_map=...)`` does). The classes are named, and their ids looked up in the
    dataset's label map when the pipeline is built, so the same config is right whatever order the
    annotation lists number the classes in. The random draw happens for every sample, so the random
    stream does not depend on the labels.

    Args:
        keep_classes (Sequence[str]): Names of the classes that are never flipped.
        label_map (str, optional): Label map giving the class names in id order (see
            :func:`~msnet_mmaction.datasets.label_map.read_class_names`); required with
            ``keep_classes``.
        keep_labels (Iterable[int]): Ids that are never flipped, for datasets without a label
            map; added to those of ``keep_classes``.
        **kwargs: Passed to :class:`mmaction.datasets.transforms.Flip`.

    Raises:
        FileNotFoundError: ``label_map`` does not exist.
        KeyError: A name in ``keep_classes`` is not in ``label_map``.
    """

    def __init__(self,
                 keep_classes: Sequence[str] = (),
                 label_map: Optional[str] = None,
                 keep_labels: Iterable[int] = (),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(keep_classes, str):
            raise TypeError('keep_classes takes a sequence of class names, not one string')
        if keep_classes and label_map is None:
            raise ValueError('SelectiveFlip needs label_map to look up the ids of keep_classes')
        named = class_ids(keep_classes, label_map) if keep_classes else []
        self.keep_labels = frozenset([*named, *(int(label) for label in keep_labels)])

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
