"""Generate a motion-only action dataset in MMAction2's video and raw-frame formats.

Each clip shows textured objects moving together over a textured background that jitters by up to
one pixel per frame. The label is the direction of motion (8 compass directions). Object count,
sizes, textures, colours, positions, speed and background are drawn independently of the label.
The objects are scattered over a layer larger than the frame that moves as a whole, so every frame
shows the same kind of scatter: neither a single frame nor the unordered set of frames carries
label information; only the order of the frames does.

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
import multiprocessing
import os
import os.path as osp
from functools import partial
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np
from mmengine.utils import ProgressBar

DIRECTIONS = ('east', 'north-east', 'north', 'north-west', 'west', 'south-west', 'south',
              'south-east')
SPLITS = ('train', 'val')
# Full-resolution colour: the default 4:2:0 chroma subsampling smears the 3-5 px colour blocks
# of the objects.
JPEG = [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
FORMATS = ('videos', 'rawframes')


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth, moderately contrasted colour texture in [0, 255], shape (height, width, 3)."""
    coarse = rng.uniform(40, 215, size=(max(height // 8, 2), max(width // 8, 2), 3))
    smooth = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth + rng.normal(0, 8, size=(height, width, 3)), 0, 255)


def _object(rng: np.random.Generator, side: int) -> np.ndarray:
    """A strongly textured square: random 3-5 px blocks of two random colours, plus noise."""
    block = int(rng.integers(3, 6))
    cells = -(-side // block)
    mask = rng.random((cells, cells)) < 0.5
    mask = np.kron(mask, np.ones((block, block), dtype=bool))[:side, :side]
    colours = rng.uniform(0, 255, size=(2, 3))
    texture = np.where(mask[..., None], colours[0], colours[1])
    return np.clip(texture + rng.normal(0, 10, size=texture.shape), 0, 255)


def render_clip(rng: np.random.Generator, label: int, size: int, num_frames: int,
                speed: float, num_objects: int) -> np.ndarray:
    """Frames (T, H, W, 3), uint8 RGB, of objects moving in direction ``label`` at ``speed`` px/frame.

    The objects lie on a layer larger than the frame, scattered uniformly, and the whole layer
    moves; objects enter and leave the frame. Every frame therefore shows a statistically identical
    scatter of objects, whatever the direction, and the set of frames does not trace a trajectory
    that would reveal the axis of motion without their order.
    """
    angle = 2 * np.pi * label / len(DIRECTIONS)
    velocity = np.array([np.cos(angle), -np.sin(angle)]) * speed  # (dx, dy); image y points down
    largest = size // 3
    margin = int(np.ceil(speed * (num_frames - 1))) + largest
    background = _background(rng, size + 2, size + 2)
    objects = []
    for _ in range(num_objects):
        side = int(rng.integers(size // 6, largest + 1))
        objects.append((_object(rng, side), rng.uniform(-margin, size + margin - side, size=2)))
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    for t in range(num_frames):
        dx, dy = rng.integers(0, 3, size=2)
        frame = background[dy:dy + size, dx:dx + size].copy()
        for patch, start in objects:
            side = patch.shape[0]
            x, y = np.round(start + velocity * t).astype(int)
            x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, size), min(y + side, size)
            if x0 < x1 and y0 < y1:
                frame[y0:y1, x0:x1] = patch[y0 - y:y1 - y, x0 - x:x1 - x]
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


def write_clip(out: str, split: str, index: int, args: argparse.Namespace) -> Dict[str, str]:
    """Render clip ``index`` of ``split``, write it in each format; return its list lines."""
    frames, label = make_clip(args.seed, split, index, args.size, args.frames, tuple(args.speed),
                              tuple(args.objects))
    clip = f'{split}_{index:05d}'
    lines = {}
    if 'videos' in args.formats:
        _write_video(osp.join(out, 'videos', f'{clip}.mp4'), frames)
        lines['videos'] = f'{clip}.mp4 {label}'
    if 'rawframes' in args.formats:
        clip_dir = osp.join(out, 'rawframes', clip)
        os.makedirs(clip_dir, exist_ok=True)
        for t, frame in enumerate(frames, start=1):
            cv2.imwrite(osp.join(clip_dir, f'img_{t:05d}.jpg'), frame[..., ::-1], JPEG)
        lines['rawframes'] = f'{clip} {len(frames)} {label}'
    return lines


def write_split(out: str, split: str, count: int, args: argparse.Namespace) -> None:
    """Write ``count`` clips of ``split`` (on ``args.workers`` processes) and their lists."""
    print(f'{split}: {count} clips')
    job = partial(write_clip, out, split, args=args)
    progress = ProgressBar(count)
    lines = []
    with multiprocessing.Pool(args.workers) as pool:
        for clip_lines in pool.imap(job, range(count), chunksize=8):
            lines.append(clip_lines)
            progress.update()
    print()
    for fmt in args.formats:
        with open(osp.join(out, f'{split}_list_{fmt}.txt'), 'w') as f:
            f.writelines(f'{clip_lines[fmt]}\n' for clip_lines in lines)


def parse_args(argv: Sequence[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--train-clips', type=int, default=4000)
    parser.add_argument('--val-clips', type=int, default=400)
    parser.add_argument('--size', type=int, default=64, help='frame side in pixels')
    parser.add_argument('--frames', type=int, default=8, help='frames per clip')
    parser.add_argument('--speed', type=float, nargs=2, default=(4.0, 6.0),
                        help='range of speeds in pixels per frame')
    parser.add_argument('--objects', type=int, nargs=2, default=(40, 60),
                        help='range of the number of objects on the moving layer')
    parser.add_argument('--formats', nargs='+', choices=FORMATS, default=list(FORMATS))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='processes rendering and writing clips (the output does not depend on it)')
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
