"""Build MMAction2 raw-frame lists for Something-Something V1 from its official CSV files."""
import argparse
import os.path as osp

from msnet_mmaction.datasets import (CLASS_ORDERS, AnnotationError, save_file_list,
                                     save_label_map, sthv1_classes, sthv1_file_list)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--root', default='data/sthv1', help='dataset folder')
    parser.add_argument('--annotations', default='data/sthv1/annotations',
                        help='folder with something-something-v1-{labels,train,validation}.csv')
    parser.add_argument('--frames', default='data/sthv1/rawframes',
                        help='folder with one frame folder per video id')
    parser.add_argument('--skip-missing', action='store_true',
                        help='leave out (and report) ids without frames instead of failing')
    parser.add_argument('--class-order', choices=CLASS_ORDERS, default='file',
                        help="class ids in the labels file's line order (MMAction2's), or in "
                        'sorted name order (TSM-style lists, the released checkpoints)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    labels = osp.join(args.annotations, 'something-something-v1-labels.csv')
    for split, name in (('train', 'train'), ('val', 'validation')):
        try:
            file_list = sthv1_file_list(labels, osp.join(args.annotations,
                                                         f'something-something-v1-{name}.csv'),
                                        args.frames, args.skip_missing, args.class_order)
        except (AnnotationError, OSError, ValueError) as e:
            raise SystemExit(f'error: {e}') from None
        save_file_list(file_list, osp.join(args.root, f'sthv1_{split}_list_rawframes.txt'))
    save_label_map(sthv1_classes(labels, args.class_order), osp.join(args.root, 'label_map.txt'))


if __name__ == '__main__':
    main()
