"""Build MMAction2 video lists for the three official HMDB-51 splits."""
import argparse
import os.path as osp

from msnet_mmaction.datasets import (AnnotationError, hmdb51_classes, hmdb51_file_lists,
                                     save_file_list, save_label_map)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--root', default='data/hmdb51', help='dataset folder')
    parser.add_argument('--splits', default='data/hmdb51/annotations',
                        help='folder with the <class>_test_split<k>.txt files')
    parser.add_argument('--no-check', action='store_true', help='do not check that videos exist')
    parser.add_argument('--skip-missing', action='store_true',
                        help='leave out (and report) missing videos instead of failing')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    videos = None if args.no_check else osp.join(args.root, 'videos')
    for split in (1, 2, 3):
        try:
            train, val = hmdb51_file_lists(args.splits, split, videos, args.skip_missing)
        except AnnotationError as e:
            raise SystemExit(f'error: {e}') from None
        save_file_list(train, osp.join(args.root, f'hmdb51_train_split_{split}_videos.txt'))
        save_file_list(val, osp.join(args.root, f'hmdb51_val_split_{split}_videos.txt'))
    save_label_map(hmdb51_classes(args.splits), osp.join(args.root, 'label_map.txt'))


if __name__ == '__main__':
    main()
