"""Figures of what a MotionSqueeze module estimates on a video: frames, the next frame warped back
by the estimated displacement, the displacement (flow colour wheel) and the confidence.

    python tools/visualize_motion.py CONFIG VIDEO --out-dir DIR [--checkpoint CKPT] [--size 224]
        [--interval 1] [--max-clips N] [--device cpu]

VIDEO is a video file or a folder of frames. Without a checkpoint the model keeps its initial
weights; the correlation of its features already follows textures from frame to frame.
"""
import argparse

import torch

import msnet_mmaction  # noqa: F401
from msnet_mmaction.apis import load_recognizer, run_tool
from msnet_mmaction.visualization import visualize_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('video', help='video file or folder of frames')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--checkpoint', help='trained weights (default: initial weights)')
    parser.add_argument('--size', type=int, default=224, help='short side fed to the model')
    parser.add_argument('--interval', type=int, default=1, help='video frames between clip frames')
    parser.add_argument('--max-clips', type=int, help='stop after this many clips')
    parser.add_argument('--fps', type=float, default=4, help='pairs per second in motion.gif')
    parser.add_argument('--module', type=int, default=0, help='which MotionSqueeze module')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0, help='seed of the initial weights')
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    try:
        model = load_recognizer(args.config, args.checkpoint, args.device)
        files = visualize_video(model, args.video, args.out_dir, args.size, args.interval,
                                args.max_clips, args.fps, args.module)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        raise SystemExit(f'error: {error}') from None
    print(f'\nwrote {len(files)} files to {args.out_dir}')


if __name__ == '__main__':
    run_tool(main)
