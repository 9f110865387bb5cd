"""Generate a motion-only action dataset in MMAction2's video and raw-frame formats.

Each clip shows textured objects moving over a smooth background that jitters by up to one pixel
per frame (``--background textured``: a busy texture that jitters by up to three). What the label is depends on ``--task``:

- ``direction`` (the default): one of 8 compass directions. The objects are scattered over a
  layer larger than the frame; with ``--coherence 1`` the whole layer moves, with a lower
  coherence only that fraction of the objects moves in the labelled direction and the others
  move in random directions (``--distractors random``) or jump to a new place every frame
  (``flicker``), as in random-dot kinematograms.
- ``relative``: two objects move towards each other (``closer``) or away from each other
  (``apart``) along a random axis, each at the clip's speed, among ``--objects`` distractors that
  move in random directions; the label is not one global translation.

Object count, sizes, textures, colours, positions, speed and background are drawn independently
of the label, so neither a single frame nor the unordered set of frames carries label
information; only the order of the frames does (every task's classes come in time-reversed
pairs). The speed, the coherence, the object sizes and their density are properties of a dataset
rather than classes: an unordered set of frames already shows how fast its content changes.

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
import sys
import time
from functools import partial
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.utils import ProgressBar

DIRECTIONS = ('east', 'north-east', 'north', 'north-west', 'west', 'south-west', 'south',
              'south-east')
RELATIVE = ('closer', 'apart')
TASKS = ('direction', 'relative')
SPLITS = ('train', 'val')
# Full-resolution colour: the default 4:2:0 chroma subsampling smears the 3-5 px colour blocks
# of the objects.
JPEG = [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
FORMATS = ('videos', 'rawframes')
BACKGROUNDS = ('smooth', 'textured')
# How far the textured background may jump between frames, in pixels each way.
TEXTURED_JITTER = 3


class Motion(NamedTuple):
    """What the clips of a dataset show (the generator's options)."""
    task: str = 'direction'
    speed: Tuple[float, float] = (4.0, 6.0)
    objects: Tuple[int, int] = (40, 60)
    coherence: float = 1.0
    distractors: str = 'random'
    object_size: Tuple[float, float] = (1 / 6, 1 / 3)
    density: Optional[Tuple[float, float]] = None
    background: str = 'smooth'

    def class_names(self) -> List[str]:
        return list(DIRECTIONS if self.task == 'direction' else RELATIVE)


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth, moderately contrasted colour texture in [0, 255], shape (height, width, 3)."""
    coarse = rng.uniform(40, 215, size=(max(height // 8, 2), max(width // 8, 2), 3))
    smooth = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth + rng.normal(0, 8, size=(height, width, 3)), 0, 255)


def _textured_background(rng: np.random.Generator, side: int) -> np.ndarray:
    """A busy colour texture (2-4 px blocks of random colours over the smooth background), as
    contrasted as the objects, so that its jitter is motion of the same kind as theirs."""
    block = int(rng.integers(2, 5))
    cells = -(-side // block)
    blocks = rng.uniform(0, 255, size=(cells, cells, 3))
    texture = np.kron(blocks, np.ones((block, block, 1)))[:side, :side]
    return 0.5 * texture + 0.5 * _background(rng, side, side)


def _object(rng: np.random.Generator, side: int) -> np.ndarray:
    """A strongly textured square: random 3-5 px blocks of two random colours, plus noise."""
    block = int(rng.integers(3, 6))
    cells = -(-side // block)
    mask = rng.random((cells, cells)) < 0.5
    mask = np.kron(mask, np.ones((block, block), dtype=bool))[:side, :side]
    colours = rng.uniform(0, 255, size=(2, 3))
    texture = np.where(mask[..., None], colours[0], colours[1])
    return np.clip(texture + rng.normal(0, 10, size=texture.shape), 0, 255)


def _compass(angle) -> np.ndarray:
    """(dx, dy) of unit length for an angle, (2, K) for K angles; image y points down."""
    return np.array([np.cos(angle), -np.sin(angle)])


def _paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    size = frame.shape[0]
    side = patch.shape[0]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, size), min(y + side, size)
    if x0 < x1 and y0 < y1:
        frame[y0:y1, x0:x1] = patch[y0 - y:y1 - y, x0 - x:x1 - x]


def _frames(rng: np.random.Generator, background: np.ndarray, size: int, num_frames: int,
            objects: List[Tuple[np.ndarray, np.ndarray]], velocities: np.ndarray,
            flicker: np.ndarray) -> np.ndarray:
    """Frames (T, H, W, 3): object ``k`` at ``start_k + velocity_k * t``, or, if it flickers, at
    a new random place in every frame, over the jittering background."""
    margin = background.shape[0] - size
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    for t in range(num_frames):
        dx, dy = rng.integers(0, margin + 1, size=2)
        frame = background[dy:dy + size, dx:dx + size].copy()
        for (patch, start), velocity, jumps in zip(objects, velocities, flicker):
            if jumps:
                x, y = rng.integers(-patch.shape[0] // 2, size, size=2)
            else:
                x, y = np.round(start + velocity * t).astype(int)
            _paste(frame, patch, x, y)
        frames[t] = frame
    return frames


def _clip_background(rng: np.random.Generator, motion: Motion, size: int) -> np.ndarray:
    """The clip's background, larger than the frame by the jitter: each frame shows it shifted by
    up to 1 px (smooth) or ``TEXTURED_JITTER`` px (textured) each way, independently per frame."""
    if motion.background == 'textured':
        return _textured_background(rng, size + 2 * TEXTURED_JITTER)
    return _background(rng, size + 2, size + 2)


def _object_sides(motion: Motion, size: int) -> Tuple[int, int]:
    return tuple(max(1, int(size * f + 1e-9)) for f in motion.object_size)


def _layer_margin(motion: Motion, size: int, num_frames: int, speed: float) -> int:
    """How far the layer of objects reaches past the frame on each side: the distance an object
    travels in a clip, plus the largest object."""
    return int(np.ceil(speed * (num_frames - 1))) + _object_sides(motion, size)[1]


def _object_count(rng: np.random.Generator, motion: Motion, size: int, num_frames: int,
                  speed: float) -> int:
    """``--objects`` drawn as a count, or ``--density`` (objects per frame area) times the area of
    the layer, which grows with the speed."""
    if motion.density is None:
        return int(rng.integers(motion.objects[0], motion.objects[1] + 1))
    layer = size + 2 * _layer_margin(motion, size, num_frames, speed)
    return int(round(rng.uniform(*motion.density) * layer**2 / size**2))


def _scatter(rng: np.random.Generator, motion: Motion, size: int, num_frames: int,
             speed: float, count: int) -> List[Tuple[np.ndarray, np.ndarray]]:
    """``count`` objects scattered over a layer that reaches past the frame by the distance any
    object travels, so that every frame shows the same kind of scatter."""
    smallest, largest = _object_sides(motion, size)
    margin = _layer_margin(motion, size, num_frames, speed)
    objects = []
    for _ in range(count):
        side = int(rng.integers(smallest, largest + 1))
        objects.append((_object(rng, side), rng.uniform(-margin, size + margin - side, size=2)))
    return objects


def render_layer(rng: np.random.Generator, motion: Motion, angle: float, size: int,
                 num_frames: int, speed: float, count: int) -> np.ndarray:
    """Frames of the ``direction`` task: objects moving at angle ``angle``.

    With a coherence below 1, each object moves that way with that probability; the others
    move in random directions or flicker.
    """
    background = _clip_background(rng, motion, size)
    objects = _scatter(rng, motion, size, num_frames, speed, count)
    velocities = np.tile(_compass(angle) * speed, (count, 1))
    flicker = np.zeros(count, dtype=bool)
    if motion.coherence < 1:
        incoherent = rng.random(count) >= motion.coherence
        if motion.distractors == 'flicker':
            flicker = incoherent
        else:
            angles = rng.uniform(0, 2 * np.pi, size=count)
            velocities[incoherent] = _compass(angles[incoherent]).T * speed
    return _frames(rng, background, size, num_frames, objects, velocities, flicker)


def render_relative(rng: np.random.Generator, motion: Motion, label: int, size: int,
                    num_frames: int, speed: float, count: int) -> np.ndarray:
    """Frames of the ``relative`` task: two large objects approaching (label 0) or receding
    (label 1) along a random axis, among ``count`` distractors moving in random directions.

    Their distance in the middle frame is drawn independently of the label, so a clip of one
    class played backwards is a clip of the other.
    """
    background = _clip_background(rng, motion, size)
    distractors = _scatter(rng, motion, size, num_frames, speed, count)
    side = int(rng.integers(size // 5, size // 3 + 1))
    pair = [(_object(rng, side), None) for _ in range(2)]
    axis = _compass(rng.uniform(0, 2 * np.pi))
    middle = (num_frames - 1) / 2
    travel = speed * middle
    distance = rng.uniform(side + travel, side + travel + size / 4)  # apart at every frame
    centre = rng.uniform(size / 2 - size / 8, size / 2 + size / 8, size=2) - side / 2
    sign = -1 if label == 0 else 1
    starts = [centre - axis * (distance / 2 - sign * speed * middle),
              centre + axis * (distance / 2 - sign * speed * middle)]
    objects = distractors + [(pair[0][0], starts[0]), (pair[1][0], starts[1])]
    angles = rng.uniform(0, 2 * np.pi, size=count)
    velocities = np.concatenate([_compass(angles).T * speed,
                                 [-sign * axis * speed, sign * axis * speed]])
    return _frames(rng, background, size, num_frames, objects, velocities,
                   np.zeros(count + 2, dtype=bool))


def clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of one clip."""
    return np.random.default_rng([seed, SPLITS.index(split), index])


def make_clip(seed: int, split: str, index: int, size: int, num_frames: int,
              motion: Motion = Motion()) -> Tuple[np.ndarray, int]:
    """Frames (T, H, W, 3), uint8 RGB, and label of clip ``index`` of ``split``; labels cycle
    through the classes."""
    rng = clip_rng(seed, split, index)
    label = index % len(motion.class_names())
    speed = float(rng.uniform(*motion.speed))
    count = _object_count(rng, motion, size, num_frames, speed)
    if motion.task == 'relative':
        return render_relative(rng, motion, label, size, num_frames, speed, count), label
    angle = 2 * np.pi * label / len(DIRECTIONS)
    return render_layer(rng, motion, angle, size, num_frames, speed, count), label


def _write_video(path: str, frames: np.ndarray, fps: int = 12) -> None:
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write {path} (no mp4v encoder)')
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()


def motion_of(args: argparse.Namespace) -> Motion:
    """The :class:`Motion` that the command-line options describe."""
    return Motion(args.task, tuple(args.speed), tuple(args.objects), args.coherence,
                  args.distractors, tuple(args.object_size),
                  tuple(args.density) if args.density else None, args.background)


def write_clip(out: str, split: str, index: int, args: argparse.Namespace) -> Dict[str, str]:
    """Render clip ``index`` of ``split``, write it in each format; return its list lines."""
    frames, label = make_clip(args.seed, split, index, args.size, args.frames, motion_of(args))
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
    job = partial(write_clip, out, split, args=args)
    # A progress bar redraws itself with a carriage return per clip, which fills a log file; off a
    # terminal one line per split says the same.
    progress = ProgressBar(count) if sys.stdout.isatty() else None
    start = time.time()
    lines = []
    with multiprocessing.Pool(args.workers) as pool:
        for clip_lines in pool.imap(job, range(count), chunksize=8):
            lines.append(clip_lines)
            if progress is not None:
                progress.update()
    if progress is not None:
        print()
    print(f'{split}: {count} clips in {time.time() - start:.1f} s')
    for fmt in args.formats:
        with open(osp.join(out, f'{split}_list_{fmt}.txt'), 'w') as f:
            f.writelines(f'{clip_lines[fmt]}\n' for clip_lines in lines)


def parse_args(argv: Sequence[str] = None) -> argparse.Namespace:
    defaults = Motion()
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--train-clips', type=int, default=4000)
    parser.add_argument('--val-clips', type=int, default=400)
    parser.add_argument('--size', type=int, default=64, help='frame side in pixels')
    parser.add_argument('--frames', type=int, default=8, help='frames per clip')
    parser.add_argument('--task', choices=TASKS, default=defaults.task,
                        help='what the label is (see above)')
    parser.add_argument('--speed', type=float, nargs=2, default=defaults.speed,
                        help='range of speeds in pixels per frame')
    parser.add_argument('--objects', type=int, nargs=2, default=defaults.objects,
                        help='range of the number of objects (distractors for --task relative)')
    parser.add_argument('--coherence', type=float, default=defaults.coherence,
                        help='fraction of the objects that move in the labelled direction')
    parser.add_argument('--distractors', choices=['random', 'flicker'],
                        default=defaults.distractors,
                        help='what the incoherent objects do: move in random directions, or '
                        'jump to a new place every frame')
    parser.add_argument('--object-size', type=float, nargs=2, default=defaults.object_size,
                        help='range of object sides, as fractions of the frame side')
    parser.add_argument('--density', type=float, nargs=2,
                        help='range of objects per frame area, instead of --objects: the count '
                        'then grows with the layer, which grows with the speed')
    parser.add_argument('--background', choices=BACKGROUNDS, default=defaults.background,
                        help='smooth, jittering by up to 1 px per frame; or textured as busily as '
                        f'the objects and jittering by up to {TEXTURED_JITTER} px')
    parser.add_argument('--formats', nargs='+', choices=FORMATS, default=list(FORMATS))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='processes rendering and writing clips (the output does not depend on it)')
    args = parser.parse_args(argv)
    if not 0 <= args.coherence <= 1:
        parser.error(f'--coherence must lie in [0, 1], got {args.coherence}')
    return args


def main() -> None:
    args = parse_args()
    for fmt in args.formats:
        os.makedirs(osp.join(args.out, fmt), exist_ok=True)
    for split, count in zip(SPLITS, (args.train_clips, args.val_clips)):
        write_split(args.out, split, count, args)
    with open(osp.join(args.out, 'label_map.txt'), 'w') as f:
        f.writelines(f'{name}\n' for name in motion_of(args).class_names())


if __name__ == '__main__':
    main()
