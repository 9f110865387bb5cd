"""Build MMAction2 video lists for Something-Something V2 from its official JSON files."""
import argparse
import os.path as osp

from msnet_mmaction.datasets import (AnnotationError, read_class_names, save_file_list,
                                     save_label_map, sthv2_file_list)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--root', default='data/sthv2', help='dataset folder')
    parser.add_argument('--annotations', default='data/sthv2/annotations',
                        help='folder with something-something-v2-{labels,train,validation}.json')
    parser.add_argument('--videos', default='data/sthv2/videos',
                        help='folder with <id>.webm; checked unless --no-check')
    parser.add_argument('--ext', default='webm', help='video file extension')
    parser.add_argument('--no-check', action='store_true', help='do not check that videos exist')
    parser.add_argument('--skip-missing', action='store_true',
                        help='leave out (and report) missing videos instead of failing')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    labels = osp.join(args.annotations, 'something-something-v2-labels.json')
    for split, name in (('train', 'train'), ('val', 'validation')):
        try:
            file_list = sthv2_file_list(
                labels, osp.join(args.annotations, f'something-something-v2-{name}.json'),
                None if args.no_check else args.videos, args.ext, args.skip_missing)
        except (AnnotationError, OSError, ValueError) as e:
            raise SystemExit(f'error: {e}') from None
        save_file_list(file_list, osp.join(args.root, f'sthv2_{split}_list_videos.txt'))
    save_label_map(read_class_names(labels), osp.join(args.root, 'label_map.txt'))


if __name__ == '__main__':
    main()
