"""Convert a checkpoint of the released MotionSqueeze code into an MMAction2 MSNet checkpoint.

    python tools/convert_official_checkpoint.py SRC DST [--config CONFIG]

SRC holds the state dict of the released TSN wrapper (``base_model.*`` backbone with the MS module,
``new_fc`` Conv1d classifier; an optional ``module.`` prefix from DataParallel; optionally nested
under ``state_dict``). It is read with ``weights_only=True``. Every source key is either converted or
reported; the released code's unused ``bn2`` is reported as dropped. With ``--config`` the result is
loaded strictly into the config's model, so a mismatch fails here and not at training time.
"""
import argparse
import re
import sys
from collections import OrderedDict
from typing import Callable, Dict, List, Tuple, Union

import torch

import msnet_mmaction  # noqa: F401  (registers MSNet, allow-lists mmengine checkpoint globals)
from msnet_mmaction.apis import run_tool
from msnet_mmaction.compat import explain_unsafe_checkpoint
from msnet_mmaction.engine import check_checkpoint

MOTION = 'backbone.motion_modules.0'
UNUSED = ('bn2.',)
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
_RULES: List[Tuple[str, Union[str, Callable[[re.Match], str]]]] = [
    (r'conv1\.weight', 'backbone.conv1.conv.weight'),
    (rf'bn1\.{_BN}', r'backbone.conv1.bn.\1'),
    (r'(layer\d\.\d+)\.conv1(?:\.net)?\.weight', r'backbone.\1.conv1.conv.net.weight'),
    (r'(layer\d\.\d+)\.conv(\d)\.weight', r'backbone.\1.conv\2.conv.weight'),
    (rf'(layer\d\.\d+)\.bn(\d)\.{_BN}', r'backbone.\1.conv\2.bn.\3'),
    (r'(layer\d\.\d+)\.downsample\.0\.weight', r'backbone.\1.downsample.conv.weight'),
    (rf'(layer\d\.\d+)\.downsample\.1\.{_BN}', r'backbone.\1.downsample.bn.\2'),
    (r'chnl_reduction\.([01]\..+)', rf'{MOTION}.reduction.\1'),
    (r'flow_refinement\.conv([1-4])\.([0134]\..+)',
     lambda m: f'{MOTION}.transform.{int(m.group(1)) - 1}.{m.group(2)}'),
    (r'new_fc\.(weight|bias)', r'cls_head.fc_cls.\1'),
]


def _strip_prefixes(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    stripped = OrderedDict()
    for key, value in state.items():
        for prefix in ('module.', 'base_model.'):
            if key.startswith(prefix):
                key = key[len(prefix):]
        stripped[key] = value
    return stripped


def convert_key(key: str) -> str:
    """The MSNet name of a released-code key (after prefixes are stripped); '' if unknown."""
    for pattern, target in _RULES:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, target, key)
    return ''


def convert_state_dict(source: Dict[str, torch.Tensor]) -> Tuple[OrderedDict, List[str], List[str]]:
    """Convert a released-code state dict.

    Returns:
        tuple: (converted state dict, dropped keys that the released forward never uses,
        unknown keys). Nothing is dropped silently: callers report both lists.
    """
    converted, dropped, unknown = OrderedDict(), [], []
    for key, value in _strip_prefixes(source).items():
        if key.startswith(UNUSED):
            dropped.append(key)
            continue
        target = convert_key(key)
        if not target:
            unknown.append(key)
            continue
        if key == 'new_fc.weight' and value.dim() == 3:
            value = value.squeeze(-1)  # Conv1d (K, C, 1) -> Linear (K, C)
        converted[target] = value
    return converted, dropped, unknown


def _check_against_config(state: OrderedDict, config: str) -> None:
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmaction.registry import MODELS

    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(cfg.model)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        raise SystemExit(f'converted checkpoint does not fit {config}:\n  missing: {missing}\n'
                         f'  unexpected: {unexpected}\n  shape mismatch: {wrong}')
    model.load_state_dict(state, strict=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint of the released MotionSqueeze code')
    parser.add_argument('dst', help='output MMAction2 checkpoint')
    parser.add_argument('--config', help='MSNet config to check the result against (strict)')
    args = parser.parse_args()
    check_checkpoint(args.src, 'released checkpoint')
    try:
        source = torch.load(args.src, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises UnpicklingError subclasses and RuntimeErrors here
        if 'weights_only' in str(error) or 'Unsupported global' in str(error):
            raise explain_unsafe_checkpoint(args.src, error) from error
        raise
    if 'state_dict' in source:
        source = source['state_dict']
    state, dropped, unknown = convert_state_dict(source)
    if dropped:
        print(f'dropped {len(dropped)} keys the released forward never uses: {dropped}')
    if unknown:
        sys.exit(f'unknown keys in {args.src}, nothing written: {unknown}')
    if args.config:
        _check_against_config(state, args.config)
    torch.save(dict(state_dict=state, meta=dict(converted_from=args.src)), args.dst)
    print(f'wrote {len(state)} tensors to {args.dst}')


if __name__ == '__main__':
    run_tool(main)
