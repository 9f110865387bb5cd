"""Recognise the action in a video with a trained recognizer (MMAction2's inference API).

    python tools/demo.py CONFIG CHECKPOINT VIDEO LABEL_MAP [--top-k 5] [--device cpu]
        [--vis-out-dir DIR] [--cfg-options KEY=VALUE ...]

Prints the top-k labels with their scores. With ``--vis-out-dir`` it also writes the motion
figures of tools/visualize_motion.py for the video. Configs that read raw frames are switched to
video decoding for the video file (``--decoder``: decord where installed, else PyAV, else OpenCV).
"""
import argparse
import os.path as osp

import msnet_mmaction  # noqa: F401
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose

from msnet_mmaction.apis import load_recognizer, run_tool, video_test_pipeline
from msnet_mmaction.visualization import count_frames, visualize_video


def input_size(pipeline) -> int:
    """The image side a test pipeline feeds the model (its last crop or resize)."""
    for step in reversed(pipeline):
        if step['type'] in ('CenterCrop', 'ThreeCrop', 'TenCrop'):
            return int(step['crop_size'])
        if step['type'] == 'Resize':
            return int(min(s for s in step['scale'] if s > 0))
    return 224


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('video')
    parser.add_argument('label_map', help='class names, one per line, in label order')
    parser.add_argument('--top-k', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--vis-out-dir', help='also write motion figures here')
    parser.add_argument('--decoder', default='auto', choices=['auto', 'decord', 'pyav', 'opencv'],
                        help='video decoder (auto: decord, else PyAV, else OpenCV)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    for what, path in (('config', args.config), ('video', args.video),
                       ('label map', args.label_map)):
        if not osp.isfile(path):
            raise SystemExit(f'error: {what} {path} does not exist')
    with open(args.label_map) as f:
        labels = [line.strip() for line in f if line.strip()]
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        count_frames(args.video)
        model = load_recognizer(cfg, args.checkpoint, args.device)
    except (ValueError, RuntimeError) as error:
        raise SystemExit(f'error: {error}') from None
    if model.cls_head.num_classes != len(labels):
        raise SystemExit(f'error: {args.label_map} has {len(labels)} names, the model '
                         f'{model.cls_head.num_classes} classes')
    from mmaction.apis import inference_recognizer
    from mmengine.registry import init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    result = inference_recognizer(model, args.video, Compose(video_test_pipeline(cfg.test_pipeline, args.decoder)))
    scores = result.pred_score.float().cpu()
    top = scores.topk(min(args.top_k, len(labels)))
    print(f'\n{args.video}: top-{len(top.indices)}')
    for score, index in zip(top.values.tolist(), top.indices.tolist()):
        print(f'  {labels[index]:<30s} {score:.4f}')
    if args.vis_out_dir:
        files = visualize_video(model, args.video, args.vis_out_dir,
                                size=input_size(cfg.test_pipeline), max_clips=4)
        print(f'wrote {len(files)} motion files to {args.vis_out_dir}')


if __name__ == '__main__':
    run_tool(main)
