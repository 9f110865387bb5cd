"""Which library decodes videos: decord where it is installed, else PyAV, else OpenCV.

decord, MMAction2's default, has wheels for x86-64 (Linux, Windows, macOS) only: on aarch64 GPU
nodes (Grace-Hopper) and Apple-silicon laptops it is missing. The video datasets of this package
take ``decoder`` (``'auto'``, ``'decord'``, ``'pyav'`` or ``'opencv'``) and rewrite their
pipelines' video steps, MMAction2's own ``*Init``/``*Decode`` transforms, to that library's.
``'auto'`` keeps the pipeline's own decoder where it is installed and otherwise picks the first
installed of :data:`DECODERS`; a decoder named but not installed is an error that names the
switch. For a config whose dataset type has no ``decoder`` argument (a stock MMAction2
``VideoDataset`` swapped in by ``--cfg-options``), this project's tools apply the switch to its
pipeline instead (:func:`apply_decoder_switch`).
"""
import importlib.util
import inspect
from typing import Dict, List, Optional, Sequence

from mmaction.registry import DATASETS
from mmengine.config import Config

from .sample_errors import loader_datasets

#: Decoders in the order ``'auto'`` tries them, with the module each needs and its MMAction2
#: (init, decode) transforms.
DECODERS: Dict[str, tuple] = {
    'decord': ('decord', 'DecordInit', 'DecordDecode'),
    'pyav': ('av', 'PyAVInit', 'PyAVDecode'),
    'opencv': ('cv2', 'OpenCVInit', 'OpenCVDecode'),
}
# Arguments every init transform takes; the others belong to one library.
_SHARED_INIT_ARGS = ('type', 'io_backend')


def installed(decoder: str) -> bool:
    """Whether the library of ``decoder`` can be imported."""
    return importlib.util.find_spec(DECODERS[decoder][0]) is not None


def pipeline_decoder(pipeline: Sequence[dict]) -> Optional[str]:
    """The decoder whose init step ``pipeline`` has; None for a pipeline without one."""
    for step in pipeline:
        for name, (_, init, _) in DECODERS.items():
            if step.get('type') == init:
                return name
    return None


def resolve_decoder(decoder: str = 'auto', switch: str = 'decoder',
                    pipeline: Sequence[dict] = ()) -> str:
    """The decoder to use: ``decoder`` itself, or for ``'auto'`` the one ``pipeline`` already
    uses (:func:`pipeline_decoder`) where installed, else the first installed one.

    Raises:
        ValueError: ``decoder`` is unknown, or not installed; the message names ``switch``, the
            setting that chose it.
    """
    if decoder == 'auto':
        preferred = pipeline_decoder(pipeline)
        for name in ([preferred] if preferred else []) + list(DECODERS):
            if installed(name):
                return name
        raise ValueError(f'no video decoder is installed (decord, PyAV or OpenCV); install one '
                         f'(pip install av) or set {switch}')
    if decoder not in DECODERS:
        raise ValueError(f'{switch} must be auto or one of {tuple(DECODERS)}, got {decoder!r}')
    if not installed(decoder):
        others = [name for name in DECODERS if name != decoder and installed(name)]
        raise ValueError(f'{switch}={decoder!r}, but {DECODERS[decoder][0]} is not installed; '
                         f'install it or set {switch} to auto or one of {others}')
    return decoder


def with_decoder(pipeline: Sequence[dict], decoder: str) -> List[dict]:
    """``pipeline`` with its video init and decode steps those of ``decoder`` (a resolved name).
    Library-specific arguments of a replaced step are dropped."""
    _, init, decode = DECODERS[decoder]
    inits = {spec[1] for spec in DECODERS.values()}
    decodes = {spec[2] for spec in DECODERS.values()}
    steps = []
    for step in pipeline:
        kind = step.get('type')
        if kind in inits and kind != init:
            step = dict({k: v for k, v in step.items() if k in _SHARED_INIT_ARGS}, type=init)
        elif kind in decodes and kind != decode:
            step = dict(type=decode)
        steps.append(step)
    return steps


def apply_decoder_switch(cfg: Config) -> None:
    """For each data loader's dataset whose type takes no ``decoder``: remove the ``decoder`` key
    from its config and rewrite its pipeline for that decoder instead."""
    for name, loader in loader_datasets(cfg):
        dataset = loader.dataset
        if 'decoder' not in dataset:
            continue
        dataset_class = DATASETS.get(dataset.get('type'))
        if (not isinstance(dataset_class, type)
                or 'decoder' in inspect.signature(dataset_class.__init__).parameters):
            continue
        pipeline = dataset.get('pipeline', [])
        decoder = resolve_decoder(dataset.pop('decoder'), switch=f'{name}.dataset.decoder',
                                  pipeline=pipeline)
        if pipeline:
            dataset.pipeline = with_decoder(pipeline, decoder)
