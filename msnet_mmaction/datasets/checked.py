"""MMAction2's raw-frame and video datasets with errors that name the annotation line.

A bad annotation line (wrong field count, a label that is not an integer or is out of range)
fails while the list is read, before any training. A sample whose media cannot be read (missing
video, truncated or corrupt file, missing frames) fails with its annotation file and line. With
``skip_bad_samples=True`` such a training sample is skipped instead: MMEngine's dataset then
draws another one, and every skip is logged with a running count. Test-mode datasets never skip,
so an evaluation always covers its whole list.
"""
from typing import List, Optional

from mmaction.datasets import RawframeDataset, VideoDataset
from mmaction.registry import DATASETS
from mmengine.logging import MMLogger

from .annotations import AnnotationError


class BadSampleError(RuntimeError):
    """A sample whose media could not be loaded."""


class _Checked:
    """Line-aware list validation and sample loading; mixed into an MMAction2 dataset."""

    #: Fields a plain (single-label) list line has; its last field is the label.
    plain_fields = 2

    def _init_checks(self, skip_bad_samples: bool, max_label: Optional[int]) -> None:
        self.skip_bad_samples = skip_bad_samples
        self.max_label = max_label
        self.skipped = 0

    def _check_list(self) -> List[int]:
        """Validate the list file; return the line number of each sample."""
        lines = []
        with open(self.ann_file) as f:
            for number, line in enumerate(f, start=1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) < self.plain_fields:
                    raise AnnotationError(self.ann_file, number, f'expected at least '
                                          f'{self.plain_fields} fields, got {line.strip()!r}')
                if not self.multi_class and len(fields) == self.plain_fields:
                    label = fields[-1]
                    if not label.lstrip('-').isdigit() or int(label) < 0 or (
                            self.max_label is not None and int(label) > self.max_label):
                        bound = '' if self.max_label is None else f' in 0..{self.max_label}'
                        raise AnnotationError(self.ann_file, number,
                                              f'label {label!r} is not an integer{bound}')
                lines.append(number)
        return lines

    def load_data_list(self) -> List[dict]:
        self._lines = self._check_list()
        return super().load_data_list()

    def prepare_data(self, idx: int):
        try:
            return super().prepare_data(idx)
        except Exception as error:
            info = self.get_data_info(idx)
            media = info.get('filename', info.get('frame_dir'))
            line = self._lines[idx] if idx < len(self._lines) else '?'
            message = f'{self.ann_file}:{line}: cannot load {media}: {type(error).__name__}: {error}'
            if not self.skip_bad_samples or self.test_mode:
                raise BadSampleError(message) from error
            self.skipped += 1
            MMLogger.get_current_instance().warning(
                f'skipped bad sample ({self.skipped} so far in this worker): {message}')
            return None


@DATASETS.register_module()
class CheckedRawframeDataset(_Checked, RawframeDataset):
    """``RawframeDataset`` with line-naming errors and an opt-in ``skip_bad_samples``.

    Args:
        skip_bad_samples (bool): Skip (and log) training samples whose frames cannot be read.
            Defaults to False.
        max_label (int, optional): Largest valid label, checked while the list is read.
        **kwargs: Passed to ``RawframeDataset``.
    """

    def __init__(self, *args, skip_bad_samples: bool = False, max_label: Optional[int] = None,
                 **kwargs) -> None:
        self._init_checks(skip_bad_samples, max_label)
        self.plain_fields = 4 if kwargs.get('with_offset') else 3
        super().__init__(*args, **kwargs)


@DATASETS.register_module()
class CheckedVideoDataset(_Checked, VideoDataset):
    """``VideoDataset`` with line-naming errors and an opt-in ``skip_bad_samples``.

    Args:
        skip_bad_samples (bool): Skip (and log) training videos that cannot be decoded.
            Defaults to False.
        max_label (int, optional): Largest valid label, checked while the list is read.
        **kwargs: Passed to ``VideoDataset``.
    """

    def __init__(self, *args, skip_bad_samples: bool = False, max_label: Optional[int] = None,
                 **kwargs) -> None:
        self._init_checks(skip_bad_samples, max_label)
        super().__init__(*args, **kwargs)
