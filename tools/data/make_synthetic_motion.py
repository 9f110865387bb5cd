"""Generate a motion-only action dataset in MMAction2's video and raw-frame formats.

Each clip shows one to three textured objects moving together over a textured background that
jitters by up to one pixel per frame. The label is the direction of motion (8 compass directions).
Object count, size, texture, colours, start positions, speed and background are drawn independently
of the label, so any single frame carries no label information; only the order of the frames does.

    python tools/data/make_synthetic_motion.py --out data/synthetic_motion

writes, for the train and val splits:

- ``videos/<clip>.mp4`` and ``{split}_list_videos.txt`` (``<clip>.mp4 label``, for ``VideoDataset``);
- ``rawframes/<clip>/img_00001.jpg ...`` and ``{split}_list_rawframes.txt``
  (``<clip> total_frames label``, for ``RawframeDataset``, laid out like Something-Something V1);
- ``label_map.txt``, one class name per line.

Every clip is drawn from its own random stream, seeded by (seed, split, clip index), so the
output does not depend on the clip counts or on the order of generation.
"""
import argparse
import os
import os.path as osp
from typing import Sequence, Tuple

import cv2
import numpy as np
from mmengine.utils import ProgressBar

DIRECTIONS = ('east', 'north-east', 'north', 'north-west', 'west', 'south-west', 'south',
              'south-east')
SPLITS = ('train', 'val')
FORMATS = ('videos', 'rawframes')


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth, moderately contrasted colour texture in [0, 255], shape (height, width, 3)."""
    coarse = rng.uniform(40, 215, size=(max(height // 8, 2), max(width // 8, 2), 3))
    smooth = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth + rng.normal(0, 8, size=(height, width, 3)), 0, 255)


def _object(rng: np.random.Generator, side: int) -> np.ndarray:
    """A strongly textured square: random 2-4 px blocks of two random colours, plus noise."""
    block = int(rng.integers(2, 5))
    cells = -(-side // block)
    mask = rng.random((cells, cells)) < 0.5
    mask = np.kron(mask, np.ones((block, block), dtype=bool))[:side, :side]
    colours = rng.uniform(0, 255, size=(2, 3))
    texture = np.where(mask[..., None], colours[0], colours[1])
    return np.clip(texture + rng.normal(0, 10, size=texture.shape), 0, 255)


def render_clip(rng: np.random.Generator, label: int, size: int, num_frames: int,
                speed: float, num_objects: int) -> np.ndarray:
    """Frames (T, H, W, 3), uint8 RGB, of objects moving in direction ``label`` at ``speed`` px/frame."""
    angle = 2 * np.pi * label / len(DIRECTIONS)
    velocity = np.array([np.cos(angle), -np.sin(angle)]) * speed  # (dx, dy); image y points down
    travel = velocity * (num_frames - 1)
    background = _background(rng, size + 2, size + 2)
    objects = []
    for _ in range(num_objects):
        side = int(rng.integers(size // 6, size // 3 + 1))
        # Start so that the object stays inside the frame for the whole clip.
        low = np.maximum(0, -travel)
        high = np.maximum(low, size - side - np.maximum(0, travel))
        objects.append((_object(rng, side), rng.uniform(low, high)))
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    for t in range(num_frames):
        dx, dy = rng.integers(0, 3, size=2)
        frame = background[dy:dy + size, dx:dx + size].copy()
        for patch, start in objects:
            side = patch.shape[0]
            x, y = np.clip(np.round(start + velocity * t).astype(int), 0, size - side)
            frame[y:y + side, x:x + side] = patch
        frames[t] = frame
    return frames


def clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of one clip."""
    return np.random.default_rng([seed, SPLITS.index(split), index])


def make_clip(seed: int, split: str, index: int, size: int, num_frames: int,
              speed: Tuple[float, float], objects: Tuple[int, int]) -> Tuple[np.ndarray, int]:
    """Frames and label of clip ``index`` of ``split``; labels cycle through the classes."""
    rng = clip_rng(seed, split, index)
    label = index % len(DIRECTIONS)
    return render_clip(rng, label, size, num_frames, float(rng.uniform(*speed)),
                       int(rng.integers(objects[0], objects[1] + 1))), label


def _write_video(path: str, frames: np.ndarray, fps: int = 12) -> None:
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write {path} (no mp4v encoder)')
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()


def write_split(out: str, split: str, count: int, args: argparse.Namespace) -> None:
    """Render ``count`` clips of ``split`` and write them and their lists in each format."""
    lists = {fmt: [] for fmt in args.formats}
    print(f'{split}: {count} clips')
    progress = ProgressBar(count)
    for index in range(count):
        frames, label = make_clip(args.seed, split, index, args.size, args.frames,
                                  tuple(args.speed), tuple(args.objects))
        clip = f'{split}_{index:05d}'
        if 'videos' in lists:
            _write_video(osp.join(out, 'videos', f'{clip}.mp4'), frames)
            lists['videos'].append(f'{clip}.mp4 {label}')
        if 'rawframes' in lists:
            clip_dir = osp.join(out, 'rawframes', clip)
            os.makedirs(clip_dir, exist_ok=True)
            for t, frame in enumerate(frames, start=1):
                cv2.imwrite(osp.join(clip_dir, f'img_{t:05d}.jpg'), frame[..., ::-1],
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
            lists['rawframes'].append(f'{clip} {len(frames)} {label}')
        progress.update()
    print()
    for fmt, lines in lists.items():
        with open(osp.join(out, f'{split}_list_{fmt}.txt'), 'w') as f:
            f.writelines(f'{line}\n' for line in lines)


def parse_args(argv: Sequence[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--train-clips', type=int, default=2400)
    parser.add_argument('--val-clips', type=int, default=400)
    parser.add_argument('--size', type=int, default=64, help='frame side in pixels')
    parser.add_argument('--frames', type=int, default=8, help='frames per clip')
    parser.add_argument('--speed', type=float, nargs=2, default=(4.0, 6.0),
                        help='range of speeds in pixels per frame')
    parser.add_argument('--objects', type=int, nargs=2, default=(1, 3),
                        help='range of the number of moving objects')
    parser.add_argument('--formats', nargs='+', choices=FORMATS, default=list(FORMATS))
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    for fmt in args.formats:
        os.makedirs(osp.join(args.out, fmt), exist_ok=True)
    for split, count in zip(SPLITS, (args.train_clips, args.val_clips)):
        write_split(args.out, split, count, args)
    with open(osp.join(args.out, 'label_map.txt'), 'w') as f:
        f.writelines(f'{name}\n' for name in DIRECTIONS)


if __name__ == '__main__':
    main()
