"""Generate a motion-only action dataset in MMAction2's raw-frame format.

Each clip shows a textured square moving over a textured background; the label is the direction
of motion (8 compass directions). Texture, colour, size, start position and background are drawn
independently of the label, so a single frame carries no label information.

    python tools/data/make_synthetic_motion.py --out data/synthetic_motion

writes ``rawframes/<clip>/img_00001.jpg ...``, ``train_list.txt`` and ``val_list.txt``
(``frame_dir total_frames label`` lines, as ``RawframeDataset`` reads them) and ``label_map.txt``.
"""
import argparse
import os
import os.path as osp
from typing import Tuple

import cv2
import numpy as np
from mmengine.utils import ProgressBar

DIRECTIONS = ('east', 'north-east', 'north', 'north-west', 'west', 'south-west', 'south',
              'south-east')


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth random colour texture in [0, 255], shape (height, width, 3)."""
    coarse = rng.uniform(0, 255, size=(max(height // 8, 2), max(width // 8, 2), 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0, 20, size=(height, width, 3)).astype(np.float32)
    return np.clip(smooth + fine, 0, 255)


def render_clip(rng: np.random.Generator, label: int, size: int, num_frames: int,
                speed: float) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 of a square moving in direction ``label`` at ``speed`` px/frame."""
    angle = 2 * np.pi * label / len(DIRECTIONS)
    velocity = np.array([np.cos(angle), -np.sin(angle)]) * speed  # (dx, dy), image y points down
    side = int(rng.integers(size // 5, size // 3))
    shift = velocity * (num_frames - 1)
    # The square stays inside the frame for the whole clip: start + shift and start both in range.
    low = np.maximum(0, -shift)
    high = np.maximum(low + 1, size - side - np.maximum(0, shift))
    start = rng.uniform(low, high)
    background = _texture(rng, size + 8, size + 8)
    patch = _texture(rng, side, side)
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    for t in range(num_frames):
        dx, dy = 3 + rng.integers(0, 3, size=2)  # background jitters by up to 1 px
        frame = background[dy:dy + size, dx:dx + size].copy()
        x, y = np.round(start + velocity * t).astype(int)
        x, y = int(np.clip(x, 0, size - side)), int(np.clip(y, 0, size - side))
        frame[y:y + side, x:x + side] = patch
        frames[t] = frame.astype(np.uint8)
    return frames


def write_split(out: str, split: str, count: int, rng: np.random.Generator, size: int,
                num_frames: int, speed: Tuple[float, float]) -> None:
    lines = []
    progress = ProgressBar(count)
    for index in range(count):
        label = index % len(DIRECTIONS)
        clip = f'{split}_{index:05d}'
        frames = render_clip(rng, label, size, num_frames, float(rng.uniform(*speed)))
        clip_dir = osp.join(out, 'rawframes', clip)
        os.makedirs(clip_dir, exist_ok=True)
        for t, frame in enumerate(frames, start=1):
            cv2.imwrite(osp.join(clip_dir, f'img_{t:05d}.jpg'), frame[..., ::-1])
        lines.append(f'{clip} {num_frames} {label}')
        progress.update()
    print()
    with open(osp.join(out, f'{split}_list.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--train-clips', type=int, default=400)
    parser.add_argument('--val-clips', type=int, default=80)
    parser.add_argument('--size', type=int, default=64, help='frame side in pixels')
    parser.add_argument('--frames', type=int, default=8, help='frames per clip')
    parser.add_argument('--speed', type=float, nargs=2, default=(2.0, 4.0),
                        help='range of speeds in pixels per frame')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    for split, count in (('train', args.train_clips), ('val', args.val_clips)):
        write_split(args.out, split, count, rng, args.size, args.frames, tuple(args.speed))
    with open(osp.join(args.out, 'label_map.txt'), 'w') as f:
        f.write('\n'.join(DIRECTIONS) + '\n')


if __name__ == '__main__':
    main()
