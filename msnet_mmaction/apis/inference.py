"""Building a recognizer from a config, and loading one for inference with weights-only
checkpoint loading and clear refusals."""
import pickle
from typing import List, Optional, Union

import torch.nn as nn
from mmengine.config import Config

from ..compat import explain_unsafe_checkpoint
from ..engine import check_checkpoint


def build_recognizer(config: Union[str, Config], frames: Optional[int] = None,
                     device: str = 'cpu') -> nn.Module:
    """The recognizer a config describes, with its initial weights (no checkpoint).

    Args:
        config (str | Config): A config file, or a loaded config.
        frames (int, optional): Frames per clip, set on the backbone and the head where they take
            ``num_segments``. Defaults to the config's.
        device (str): Where the model goes. Defaults to ``'cpu'``.
    """
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model_cfg = cfg.model
    if frames is not None:
        for part in ('backbone', 'cls_head'):
            if 'num_segments' in model_cfg.get(part, {}):
                model_cfg[part]['num_segments'] = frames
    return MODELS.build(model_cfg).to(device)


def load_recognizer(config: Union[str, Config], checkpoint: Optional[str] = None,
                    device: str = 'cpu') -> nn.Module:
    """MMAction2's ``init_recognizer`` in eval mode. A missing or damaged checkpoint raises
    :class:`~msnet_mmaction.engine.DamagedCheckpointError`; one that is not plain weights is
    refused with an explanation (``weights_only`` loading stays on)."""
    from mmaction.apis import init_recognizer
    if checkpoint is not None:
        check_checkpoint(checkpoint)
    try:
        model = init_recognizer(config, checkpoint, device=device)
    except pickle.UnpicklingError as error:
        raise explain_unsafe_checkpoint(checkpoint, error) from error
    return model.eval()


def video_test_pipeline(pipeline: List[dict], decoder: str = 'auto') -> List[dict]:
    """A config's test pipeline made to read a video file with ``decoder`` (``'auto'``: decord,
    else PyAV, else OpenCV, the first installed): raw-frame decoding becomes video decoding."""
    from ..datasets.video_decoders import DECODERS, resolve_decoder, with_decoder
    name = resolve_decoder(decoder, switch='--decoder', pipeline=pipeline)
    _, init, decode = DECODERS[name]
    steps = [dict(step) for step in pipeline]
    types = [step['type'] for step in steps]
    if 'RawFrameDecode' in types:
        steps[types.index('RawFrameDecode')] = dict(type=decode)
    if not any(t in {spec[1] for spec in DECODERS.values()} for t in types):
        steps.insert(0, dict(type=init))
    return with_decoder(steps, name)
