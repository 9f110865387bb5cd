"""Errors that name the sample, and opt-in skipping, for MMAction2 datasets.

MMAction2 1.2.0's datasets pass a loading failure on as the decoder raised it: a truncated mp4
read by ``DecordInit``/``DecordDecode`` stops training with ``RuntimeError: Error reading 700
bytes...`` and no file name, and likewise for ``PyAVInit``, ``OpenCVInit`` and a missing frame in
``RawFrameDecode``. On a list of 220,000 videos that leaves the bad one to be found by bisection.

Here a failure becomes a :class:`BadSampleError` whose message names the list file, the line of
the sample (for text lists) and its video or frame folder. It is raised where the sample is
loaded, so it reaches the main process from a data loader worker too. With
``skip_bad_samples=True`` a training sample that fails is logged with a running count and another
one is drawn instead; test-mode datasets never skip, so an evaluation always covers its whole
list. Two ways to turn it on, neither of which changes MMAction2's classes:

* this package's datasets (``CheckedRawframeDataset``, ``CheckedVideoDataset``, which the paper
  configs use) name their failures, and take ``skip_bad_samples``;
* any other dataset is wrapped in :class:`NamedSampleErrors`, as ``tools/train.py`` and
  ``tools/test.py`` do for the datasets of the config they run (:func:`name_sample_errors`).
"""
import os.path as osp
import random
from typing import Dict, Iterator, Optional, Tuple, Union

from mmaction.registry import DATASETS
from mmengine.config import Config, ConfigDict
from mmengine.logging import MMLogger
from torch.utils.data import Dataset

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


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
    ann_file = getattr(dataset, 'ann_file', type(dataset).__name__)
    where = f'{ann_file}:{line}' if line else f'{ann_file}, sample {idx}'
    return f'{where}: cannot load {_media(info)}: {type(error).__name__}: {error}'


def handle_failure(owner, dataset, idx: int, error: Exception) -> None:
    """Raise :class:`BadSampleError` for sample ``idx`` of ``dataset``, or, where ``owner`` skips
    bad samples and ``dataset`` is not in test mode, count and log it and return."""
    message = describe_failure(dataset, idx, error)
    if not owner.skip_bad_samples or getattr(dataset, 'test_mode', False):
        raise BadSampleError(message) from error
    owner.skipped_samples += 1
    MMLogger.get_current_instance().warning(
        f'skipped bad sample ({owner.skipped_samples} so far in this process): {message}')


class NamedSampleErrorsMixin:
    """Mixed into an MMAction2 dataset: its ``prepare_data`` names failures, and it takes
    ``skip_bad_samples`` (MMEngine's dataset then draws another sample)."""

    def __init__(self, *args, skip_bad_samples: bool = False, **kwargs) -> None:
        self.skip_bad_samples = skip_bad_samples
        self.skipped_samples = 0
        super().__init__(*args, **kwargs)

    def prepare_data(self, idx: int):
        try:
            return super().prepare_data(idx)
        except Exception as error:
            handle_failure(self, self, idx, error)
            return None


@DATASETS.register_module()
class NamedSampleErrors(Dataset):
    """Any dataset, with failures named and, optionally, bad training samples skipped.

    Attributes the wrapper does not have are read from the dataset, so hooks and evaluators that
    ask for ``metainfo`` or ``ann_file`` see the dataset's.

    Args:
        dataset (dict | Dataset): The dataset, or its config.
        skip_bad_samples (bool): Skip training samples that fail, drawing others. Defaults to
            False.
        max_skips (int): Failures in a row after which a skipping dataset gives up. Defaults to
            100.
    """

    def __init__(self, dataset: Union[dict, Dataset], skip_bad_samples: bool = False,
                 max_skips: int = 100) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.skip_bad_samples = skip_bad_samples
        self.max_skips = max_skips
        self.skipped_samples = 0

    def __getattr__(self, name: str):
        # Only called for names the wrapper lacks; unpickling in a worker asks before
        # ``dataset`` is set.
        if name.startswith('__') or 'dataset' not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int):
        for _ in range(self.max_skips + 1):
            try:
                return self.dataset[idx]
            except Exception as error:
                handle_failure(self, self.dataset, idx, error)
                idx = random.randrange(len(self.dataset))
        raise BadSampleError(f'{self.max_skips + 1} samples in a row could not be loaded from '
                             f'{getattr(self.dataset, "ann_file", self.dataset)}')


def loader_datasets(cfg: Config) -> Iterator[Tuple[str, ConfigDict]]:
    """(name, data loader config) of each of ``cfg``'s data loaders that has a dataset."""
    for name in DATALOADERS:
        loader = cfg.get(name)
        if loader and loader.get('dataset'):
            yield name, loader


def name_sample_errors(cfg: Config) -> None:
    """Wrap the dataset of each of ``cfg``'s data loaders in :class:`NamedSampleErrors`, unless
    its type names its failures already; a ``skip_bad_samples`` in the dataset's config moves to
    the wrapper. Runs after ``--cfg-options``, which therefore address the datasets as the config
    writes them."""
    for _, loader in loader_datasets(cfg):
        dataset = loader.dataset
        dataset_class = DATASETS.get(dataset.get('type'))
        if isinstance(dataset_class, type) and issubclass(
                dataset_class, (NamedSampleErrorsMixin, NamedSampleErrors)):
            continue
        skip = dataset.pop('skip_bad_samples', False)
        loader.dataset = ConfigDict(type='NamedSampleErrors', dataset=dataset,
                                    skip_bad_samples=skip)
