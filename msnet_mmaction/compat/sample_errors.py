"""Errors that name the sample, and opt-in skipping, for every MMAction2 dataset.

MMAction2 1.2.0's datasets pass a loading failure on as the decoder raised it: a truncated mp4
read by ``DecordInit``/``DecordDecode`` stops training with ``RuntimeError: Error reading 700
bytes...`` and no file name, and likewise for ``PyAVInit``, ``OpenCVInit`` and a missing frame in
``RawFrameDecode``. On a list of 220,000 videos that leaves the bad one to be found by bisection.

Where needed (the installed ``BaseActionDataset`` has not been wrapped yet), two of its methods
are wrapped, for the stock datasets and every subclass alike:

* ``prepare_data`` re-raises a failure as :class:`BadSampleError`, whose message names the list
  file, the line of the sample (for text lists) and its video or frame folder. The error is
  raised where the sample is loaded, so it reaches the main process from a data loader worker
  too. With ``skip_bad_samples=True`` a training sample that fails is logged with a running
  count and skipped instead: MMEngine's dataset then draws another one. Test-mode datasets never
  skip, so an evaluation always covers its whole list.
* ``__init__`` accepts ``skip_bad_samples``, so that ``--cfg-options
  train_dataloader.dataset.skip_bad_samples=True`` works for a config that names a stock dataset
  type.
"""
import functools
import os.path as osp
from typing import Dict, Optional

from mmengine.logging import MMLogger

WRAPPED = '_msnet_names_bad_samples'


class BadSampleError(RuntimeError):
    """A sample whose media could not be loaded; the message names the list line and the file."""


def _media(info: dict) -> Optional[str]:
    return info.get('filename', info.get('frame_dir'))


def _annotation_lines(dataset) -> Dict[str, int]:
    """{media path as the dataset resolves it: line number} of a text annotation list."""
    prefix = dataset.data_prefix or {}
    root = prefix.get('video', prefix.get('img')) or ''
    lines = {}
    with open(dataset.ann_file, encoding='utf-8', errors='replace') as f:
        for number, line in enumerate(f, start=1):
            fields = line.split()
            if fields:
                lines.setdefault(osp.join(root, fields[0]), number)
    return lines


def annotation_line(dataset, info: dict) -> Optional[int]:
    """The line of the dataset's annotation list that ``info`` came from, where the list is text
    with the media path first; None otherwise. Read on the first call and kept."""
    ann_file = getattr(dataset, 'ann_file', None)
    if not ann_file or not str(ann_file).endswith('.txt') or not osp.isfile(ann_file):
        return None
    lines = dataset.__dict__.get('_msnet_annotation_lines')
    if lines is None:
        lines = dataset._msnet_annotation_lines = _annotation_lines(dataset)
    return lines.get(_media(info))


def describe_failure(dataset, idx: int, error: Exception) -> str:
    """``list:line: cannot load <media>: <error>`` for sample ``idx`` (``list, sample idx`` where
    the line is unknown)."""
    info = dataset.get_data_info(idx)
    line = annotation_line(dataset, info)
    where = f'{dataset.ann_file}:{line}' if line else f'{dataset.ann_file}, sample {idx}'
    return f'{where}: cannot load {_media(info)}: {type(error).__name__}: {error}'


def _prepare_data(original):

    @functools.wraps(original)
    def prepare_data(self, idx: int):
        try:
            return original(self, idx)
        except Exception as error:
            message = describe_failure(self, idx, error)
            if not getattr(self, 'skip_bad_samples', False) or self.test_mode:
                raise BadSampleError(message) from error
            self.skipped_samples = getattr(self, 'skipped_samples', 0) + 1
            MMLogger.get_current_instance().warning(
                f'skipped bad sample ({self.skipped_samples} so far in this process): {message}')
            return None

    return prepare_data


def _init(original):

    @functools.wraps(original)
    def __init__(self, *args, skip_bad_samples: bool = False, **kwargs) -> None:
        self.skip_bad_samples = skip_bad_samples
        self.skipped_samples = 0
        original(self, *args, **kwargs)

    return __init__


def name_bad_samples() -> bool:
    """Wrap ``BaseActionDataset`` as described above, once. Returns whether it did."""
    from mmaction.datasets.base import BaseActionDataset
    if getattr(BaseActionDataset, WRAPPED, False):
        return False
    BaseActionDataset.prepare_data = _prepare_data(BaseActionDataset.prepare_data)
    BaseActionDataset.__init__ = _init(BaseActionDataset.__init__)
    setattr(BaseActionDataset, WRAPPED, True)
    return True
