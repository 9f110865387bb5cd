"""Build MMAction2 video lists for Kinetics-400 from its official CSV files."""
import argparse
import os.path as osp

from msnet_mmaction.datasets import (AnnotationError, kinetics_classes, kinetics_file_list,
                                     save_file_list, save_label_map)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--root', default='data/kinetics400', help='dataset folder')
    parser.add_argument('--annotations', default='data/kinetics400/annotations',
                        help='folder with train.csv and validate.csv')
    parser.add_argument('--no-check', action='store_true', help='do not check that videos exist')
    parser.add_argument('--skip-missing', action='store_true',
                        help='leave out (and report) missing videos instead of failing')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    train_csv = osp.join(args.annotations, 'train.csv')
    try:
        classes = kinetics_classes(train_csv)
        for split, csv_name, videos in (('train', 'train.csv', 'videos_train'),
                                        ('val', 'validate.csv', 'videos_val')):
            file_list = kinetics_file_list(
                osp.join(args.annotations, csv_name), classes,
                None if args.no_check else osp.join(args.root, videos), args.skip_missing)
            save_file_list(file_list, osp.join(args.root, f'kinetics400_{split}_list_videos.txt'))
    except AnnotationError as e:
        raise SystemExit(f'error: {e}') from None
    save_label_map(classes, osp.join(args.root, 'label_map.txt'))


if __name__ == '__main__':
    main()
