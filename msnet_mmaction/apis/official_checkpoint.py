"""Convert state dicts of the released MotionSqueeze code into MMAction2 MSNet state dicts.

The released checkpoints hold the TSN wrapper's state dict: the backbone with the MS module under
``base_model.`` and the Conv1d classifier ``new_fc`` (an optional ``module.`` prefix from
DataParallel). Their classifier rows follow the released list builders' class order, which is the
sorted class names; :func:`reorder_classes` moves them to the order of another label map.
:func:`convert_checkpoint` does the whole conversion from file to file
(``tools/convert_official_checkpoint.py`` is its command line).
"""
import re
from collections import OrderedDict
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from ..errors import ActionableError

MOTION = 'backbone.motion_modules.0'
#: Keys the released code creates but its forward pass never uses.
UNUSED = ('bn2.', )
CLASSIFIER = ('cls_head.fc_cls.weight', 'cls_head.fc_cls.bias')
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


def _strip_prefixes(state: Dict[str, Tensor]) -> Dict[str, Tensor]:
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


def convert_state_dict(source: Dict[str, Tensor]) -> Tuple[OrderedDict, List[str], List[str]]:
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


def reorder_classes(state: Dict[str, Tensor],
                    target_classes: Sequence[str],
                    source_classes: Optional[Sequence[str]] = None) -> OrderedDict:
    """Move the classifier's rows from the released class order to ``target_classes``.

    Args:
        state (dict): A converted state dict (:func:`convert_state_dict`), rows of
            ``cls_head.fc_cls`` in the order of ``source_classes``.
        target_classes (Sequence[str]): Class names in the order the result should use (the label
            map of the lists it will be evaluated on).
        source_classes (Sequence[str], optional): Class names in the checkpoint's row order.
            Defaults to ``sorted(target_classes)``, the released code's order.

    Returns:
        OrderedDict: ``state`` with row ``i`` of the classifier belonging to ``target_classes[i]``.

    Raises:
        ActionableError: The counts of rows, source and target classes differ, or a target class
            is not among the source classes.
    """
    if source_classes is None:
        source_classes = sorted(target_classes)
    rows = state[CLASSIFIER[0]].shape[0]
    if not rows == len(source_classes) == len(target_classes):
        raise ActionableError(
            f'the checkpoint classifier has {rows} rows, the source order {len(source_classes)} '
            f'classes and the target label map {len(target_classes)}: they must be equal')
    source_index = {name: i for i, name in enumerate(source_classes)}
    for name in target_classes:
        if name not in source_index:
            raise ActionableError(f'class {name!r} of the target label map is not among the '
                                  "checkpoint's classes")
    order = torch.tensor([source_index[name] for name in target_classes])
    reordered = OrderedDict(state)
    for key in CLASSIFIER:
        reordered[key] = state[key].index_select(0, order)
    return reordered


class Conversion(NamedTuple):
    """What :func:`convert_checkpoint` wrote: the number of tensors, the source keys dropped as
    unused, and whether the classifier's rows were reordered."""
    tensors: int
    dropped: List[str]
    reordered: bool


def _check_against_config(state: Dict[str, Tensor], config: str) -> None:
    from .inference import build_recognizer
    model = build_recognizer(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        raise ActionableError(f'converted checkpoint does not fit {config}:\n  missing: {missing}'
                              f'\n  unexpected: {unexpected}\n  shape mismatch: {wrong}')
    model.load_state_dict(state, strict=True)


def convert_checkpoint(src: str, dst: str, config: Optional[str] = None,
                       label_map: Optional[str] = None,
                       source_label_map: Optional[str] = None) -> Conversion:
    """Convert the released checkpoint ``src`` into an MMAction2 MSNet checkpoint ``dst``.

    ``src`` is read with ``weights_only=True``; its state dict may be nested under
    ``state_dict``. Nothing is written when a source key is unknown.

    Args:
        src (str): Checkpoint of the released MotionSqueeze code.
        dst (str): The MMAction2 checkpoint to write.
        config (str, optional): An MSNet config the result must load into strictly.
        label_map (str, optional): Class names in the order of the lists the result is used with;
            the classifier's rows are reordered to it (:func:`reorder_classes`).
        source_label_map (str, optional): Class names in ``src``'s row order, if not the sorted
            names of ``label_map``.

    Raises:
        ActionableError: Unknown keys, class names that do not match, a result that does not fit
            ``config``, or a damaged or unsafe ``src``.
    """
    from ..compat import explain_unsafe_checkpoint
    from ..datasets import read_class_names
    from ..engine import check_checkpoint
    if source_label_map and not label_map:
        raise ActionableError('a source label map needs a target label map')
    check_checkpoint(src, 'released checkpoint')
    try:
        source = torch.load(src, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises UnpicklingError subclasses and RuntimeErrors here
        if 'weights_only' in str(error) or 'Unsupported global' in str(error):
            raise explain_unsafe_checkpoint(src, error) from error
        raise
    if 'state_dict' in source:
        source = source['state_dict']
    state, dropped, unknown = convert_state_dict(source)
    if unknown:
        raise ActionableError(f'unknown keys in {src}, nothing written: {unknown}')
    if label_map:
        try:
            target_classes = read_class_names(label_map)
            source_classes = read_class_names(source_label_map) if source_label_map else None
        except (OSError, ValueError) as error:
            raise ActionableError(str(error)) from error
        state = reorder_classes(state, target_classes, source_classes)
    if config:
        _check_against_config(state, config)
    torch.save(dict(state_dict=state, meta=dict(converted_from=src)), dst)
    return Conversion(len(state), dropped, bool(label_map))
