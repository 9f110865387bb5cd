"""Convert a checkpoint of the released MotionSqueeze code into an MMAction2 MSNet checkpoint.

    python tools/convert_official_checkpoint.py SRC DST [--config CONFIG] [--label-map FILE]

A command line over :func:`msnet_mmaction.apis.official_checkpoint.convert_checkpoint`. SRC holds
the state dict of the released TSN wrapper (``base_model.*`` backbone with the MS module,
``new_fc`` Conv1d classifier; an optional ``module.`` prefix from DataParallel; optionally nested
under ``state_dict``). It is read with ``weights_only=True``. Every source key is either converted or
reported; the released code's unused ``bn2`` is reported as dropped. The released classifier's rows
follow the sorted class names; ``--label-map`` (the ``label_map.txt`` that tools/data/ writes next
to the lists, or the dataset's labels file) reorders them to that file's class order, which
Something-Something V1 lists built in the labels file's order need. With ``--config`` the result is
loaded strictly into the config's model, so a mismatch fails here and not at training time.
"""
import argparse

import msnet_mmaction  # noqa: F401  (registers MSNet, allow-lists mmengine checkpoint globals)
from msnet_mmaction.apis import run_tool
from msnet_mmaction.apis.official_checkpoint import convert_checkpoint


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
    result = convert_checkpoint(args.src, args.dst, args.config, args.label_map,
                                args.source_label_map)
    if result.dropped:
        print(f'dropped {len(result.dropped)} keys the released forward never uses: '
              f'{result.dropped}')
    if result.reordered:
        print(f'classifier rows reordered to the class order of {args.label_map}')
    print(f'wrote {result.tensors} tensors to {args.dst}')


if __name__ == '__main__':
    run_tool(main)
