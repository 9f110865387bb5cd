"""MMAction2's raw-frame and video datasets that check their annotation list when they read it.

A bad annotation line (wrong field count, a label that is not an integer or is out of range)
fails while the list is read, before any training, naming the file and line. A sample whose media
cannot be read fails naming its list line, or with ``skip_bad_samples=True`` is skipped
(:mod:`.sample_errors`).
"""
from typing import Optional

from mmaction.datasets import RawframeDataset, VideoDataset
from mmaction.registry import DATASETS

from .annotations import AnnotationError
from .sample_errors import NamedSampleErrorsMixin
from .video_decoders import resolve_decoder, with_decoder


class _Checked:
    """Line-aware list validation; mixed into an MMAction2 dataset."""

    #: Fields a plain (single-label) list line has; its last field is the label.
    plain_fields = 2
    max_label: Optional[int] = None

    def _check_list(self) -> None:
        """Validate the list file, naming the line of the first bad entry."""
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

    def load_data_list(self) -> list:
        self._check_list()
        return super().load_data_list()


@DATASETS.register_module()
class CheckedRawframeDataset(_Checked, NamedSampleErrorsMixin, RawframeDataset):
    """``RawframeDataset`` that checks every line of its list when it reads it.

    Args:
        max_label (int, optional): Largest valid label, checked while the list is read.
        **kwargs: Passed to ``RawframeDataset``, ``skip_bad_samples`` included.
    """

    def __init__(self, *args, max_label: Optional[int] = None, **kwargs) -> None:
        self.max_label = max_label
        self.plain_fields = 4 if kwargs.get('with_offset') else 3
        super().__init__(*args, **kwargs)


@DATASETS.register_module()
class CheckedVideoDataset(_Checked, NamedSampleErrorsMixin, VideoDataset):
    """``VideoDataset`` that checks every line of its list when it reads it, and decodes with
    the library ``decoder`` names.

    Args:
        max_label (int, optional): Largest valid label, checked while the list is read.
        decoder (str): ``'auto'`` (the pipeline's own decoder where installed, else the first
            installed of decord, PyAV, OpenCV), ``'decord'``, ``'pyav'`` or ``'opencv'``; the
            pipeline's video init and decode steps become that library's
            (:mod:`.video_decoders`). Defaults to ``'auto'``.
        **kwargs: Passed to ``VideoDataset``, ``skip_bad_samples`` included.
    """

    def __init__(self, *args, max_label: Optional[int] = None, decoder: str = 'auto',
                 **kwargs) -> None:
        self.max_label = max_label
        self.decoder = resolve_decoder(
            decoder, switch="the dataset's decoder (e.g. --cfg-options "
            'train_dataloader.dataset.decoder=pyav)', pipeline=kwargs.get('pipeline', ()))
        if 'pipeline' in kwargs:
            kwargs['pipeline'] = with_decoder(kwargs['pipeline'], self.decoder)
        super().__init__(*args, **kwargs)
