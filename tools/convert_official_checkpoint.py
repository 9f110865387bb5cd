"""Convert a checkpoint of the released MotionSqueeze code into an MMAction2 MSNet checkpoint.

    python tools/convert_official_checkpoint.py SRC DST [--config CONFIG] [--label-map FILE]

SRC holds the state dict of the released TSN wrapper (``base_model.*`` backbone with the MS module,
``new_fc`` Conv1d classifier; an optional ``module.`` prefix from DataParallel; optionally nested
under ``state_dict``). It is read with ``weights_only=True``. Every source key is either converted or
reported; the released code's unused ``bn2`` is reported as dropped. The released classifier's rows
follow the sorted class names; ``--label-map`` (the ``label_map.txt`` that tools/data/ writes next
to the lists, or the dataset's labels file) reorders them to that file's class order, which
Something-Something V1 lists built in the labels file's order need. With ``--config`` the result is
loaded strictly into the config's model, so a mismatch fails here and not at training time.
"""
import argparse
import sys

import torch

import msnet_mmaction  # noqa: F401  (registers MSNet, allow-lists mmengine checkpoint globals)
from msnet_mmaction.apis import build_recognizer, run_tool
from msnet_mmaction.apis.official_checkpoint import convert_state_dict, reorder_classes
from msnet_mmaction.compat import explain_unsafe_checkpoint
from msnet_mmaction.datasets import read_class_names
from msnet_mmaction.engine import check_checkpoint


def _check_against_config(state: dict, config: str) -> None:
    model = build_recognizer(config)
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
    parser.add_argument('--label-map',
                        help='class names in the order of the lists the result is used with; the '
                        "classifier's rows are reordered from the released (sorted) order to it")
    parser.add_argument('--source-label-map',
                        help="class names in the checkpoint's row order, if not the sorted names")
    args = parser.parse_args()
    if args.source_label_map and not args.label_map:
        parser.error('--source-label-map needs --label-map')
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
    if args.label_map:
        try:
            target_classes = read_class_names(args.label_map)
            source_classes = (read_class_names(args.source_label_map)
                              if args.source_label_map else None)
        except (OSError, ValueError) as error:
            sys.exit(f'error: {error}')
        state = reorder_classes(state, target_classes, source_classes)
        print(f'classifier rows reordered to the class order of {args.label_map}')
    if args.config:
        _check_against_config(state, args.config)
    torch.save(dict(state_dict=state, meta=dict(converted_from=args.src)), args.dst)
    print(f'wrote {len(state)} tensors to {args.dst}')


if __name__ == '__main__':
    run_tool(main)
