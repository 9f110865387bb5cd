"""The synthetic motion dataset: determinism, both MMAction2 formats, and motion-only labels."""
import hashlib
import os
import os.path as osp
import sys

import numpy as np
import pytest
from helpers import REPO, python
from mmaction.registry import DATASETS
from mmengine.config import Config

sys.path.insert(0, osp.join(REPO, 'tools', 'data'))
from make_synthetic_motion import (DIRECTIONS, Motion, make_clip, motion_of,  # noqa: E402
                                   parse_args)

DEFAULTS = parse_args(['--out', 'unused'])
# Each of the generator's motion options, away from its default.
VARIANTS = {
    'fast': Motion(speed=(14.0, 18.0), density=(4.0, 6.0)),
    'slow': Motion(speed=(1.0, 2.0)),
    'low coherence': Motion(coherence=0.3),
    'flicker': Motion(coherence=0.4, distractors='flicker'),
    'relative': Motion(task='relative', objects=(0, 6)),
    'small objects': Motion(object_size=(0.08, 0.15), density=(6.0, 8.0)),
    'textured background': Motion(background='textured'),
}


def default_clip(split: str, index: int, seed: int = 0, motion: Motion = Motion()):
    """Clip ``index`` of ``split`` as the generator makes it at 64 px."""
    return make_clip(seed, split, index, 64, DEFAULTS.frames, motion)


def _digest(root: str) -> dict:
    digests = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                digests[osp.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return digests


def test_generator_is_deterministic(tmp_path, synthetic_root):
    again = str(tmp_path / 'again')
    python('tools/data/make_synthetic_motion.py', '--out', again, '--train-clips', '16',
           '--val-clips', '8', '--size', '64')
    assert _digest(again) == _digest(synthetic_root)
    other = str(tmp_path / 'other')
    python('tools/data/make_synthetic_motion.py', '--out', other, '--train-clips', '16',
           '--val-clips', '8', '--size', '64', '--seed', '1')
    assert _digest(other)['rawframes/train_00000/img_00001.jpg'] != _digest(
        synthetic_root)['rawframes/train_00000/img_00001.jpg']


def test_clips_do_not_depend_on_clip_count():
    small = default_clip('val', 3)
    assert np.array_equal(small[0], default_clip('val', 3)[0])
    assert not np.array_equal(small[0], default_clip('train', 3)[0])


def test_layout_and_lists(synthetic_root):
    with open(osp.join(synthetic_root, 'label_map.txt')) as f:
        assert [line.strip() for line in f] == list(DIRECTIONS)
    for split, count in (('train', 16), ('val', 8)):
        with open(osp.join(synthetic_root, f'{split}_list_rawframes.txt')) as f:
            frames = [line.split() for line in f]
        with open(osp.join(synthetic_root, f'{split}_list_videos.txt')) as f:
            videos = [line.split() for line in f]
        assert len(frames) == len(videos) == count
        for (clip, total, label), (video, video_label) in zip(frames, videos):
            assert video == f'{clip}.mp4' and video_label == label
            assert 0 <= int(label) < len(DIRECTIONS)
            assert sorted(os.listdir(osp.join(synthetic_root, 'rawframes', clip))) == [
                f'img_{t:05d}.jpg' for t in range(1, int(total) + 1)]
        assert {int(label) for _, _, label in frames} == set(range(len(DIRECTIONS)))


@pytest.mark.parametrize('config', ['msnet_r18_8f_synthetic-motion.py',
                                    'msnet_r18_8f_synthetic-motion-videos.py'])
def test_both_readers_load_every_sample(config, synthetic_root, monkeypatch):
    monkeypatch.setenv('MSNET_SYNTHETIC_ROOT', synthetic_root)
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    for loader in ('train_dataloader', 'val_dataloader'):
        dataset = DATASETS.build(cfg[loader].dataset)
        assert len(dataset) == (16 if loader == 'train_dataloader' else 8)
        for index in range(len(dataset)):
            item = dataset[index]
            assert item['inputs'].shape == (8, 3, 64, 64)
            assert item['inputs'].float().std() > 10


def test_video_frames_match_raw_frames(synthetic_root):
    import cv2
    import decord
    reader = decord.VideoReader(osp.join(synthetic_root, 'videos', 'val_00002.mp4'))
    assert len(reader) == 8
    video = reader.get_batch(list(range(8))).asnumpy().astype(np.float64)
    frames = np.stack([
        cv2.imread(osp.join(synthetic_root, 'rawframes', 'val_00002', f'img_{t:05d}.jpg'))[..., ::-1]
        for t in range(1, 9)]).astype(np.float64)
    rendered = default_clip('val', 2)[0].astype(np.float64)
    assert np.abs(frames - rendered).mean() < 6
    assert np.abs(video - rendered).mean() < 12


def test_the_default_is_unchanged_by_the_motion_options():
    """The options' defaults draw nothing extra: the default dataset stays reproducible."""
    assert motion_of(DEFAULTS) == Motion()
    frames, label = default_clip('train', 5)
    assert label == 5 and frames.shape == (8, 64, 64, 3)
    digest = hashlib.sha256(frames.tobytes()).hexdigest()
    assert digest == hashlib.sha256(default_clip('train', 5, motion=Motion())[0].tobytes()
                                    ).hexdigest()


@pytest.mark.parametrize('variant', list(VARIANTS))
def test_motion_options_are_deterministic(variant):
    motion = VARIANTS[variant]
    first, label = default_clip('val', 7, motion=motion)
    again, same = default_clip('val', 7, motion=motion)
    assert np.array_equal(first, again) and label == same == 7 % len(motion.class_names())
    assert not np.array_equal(first, default_clip('val', 7, seed=1, motion=motion)[0])
    assert first.std() > 20  # the objects are there


def _order_blind_features(frames: np.ndarray) -> np.ndarray:
    """Statistics of each frame (colour means and spreads, horizontal and vertical gradient
    energy), averaged over the frames: they do not change if the frames are shuffled."""
    frames = frames.astype(np.float64)
    per_frame = np.concatenate([frames.mean((1, 2)), frames.std((1, 2)),
                                np.abs(np.diff(frames, axis=2)).mean((1, 2, 3))[:, None],
                                np.abs(np.diff(frames, axis=1)).mean((1, 2, 3))[:, None]], 1)
    return np.concatenate([per_frame.mean(0), per_frame.std(0)])


def _nearest_centroid_accuracy(features: np.ndarray, labels: np.ndarray) -> float:
    half = len(labels) // 2
    classes = np.unique(labels)
    mean, std = features[:half].mean(0), features[:half].std(0) + 1e-9
    z = (features - mean) / std
    centroids = np.stack([z[:half][labels[:half] == c].mean(0) for c in classes])
    predicted = classes[np.argmin(((z[half:, None] - centroids)**2).sum(-1), axis=1)]
    return float((predicted == labels[half:]).mean())


@pytest.mark.slow
@pytest.mark.parametrize('variant', ['default'] + list(VARIANTS))
def test_single_frames_and_unordered_frames_carry_no_label(variant):
    """A nearest-centroid classifier on the statistics of one frame drawn at random from each
    clip, and on statistics that ignore the order of the frames, stays near chance for every
    task and option. (A frame at a fixed time does carry the label of the relative task: its
    objects are far apart at the start of an approach.)"""
    motion = VARIANTS.get(variant, Motion())
    clips = [default_clip('train', i, motion=motion) for i in range(240)]
    labels = np.array([label for _, label in clips])
    chance = 1 / len(motion.class_names())
    times = np.random.default_rng(0).integers(0, DEFAULTS.frames, size=len(clips))
    one_frame = np.stack([_order_blind_features(frames[t:t + 1])
                          for (frames, _), t in zip(clips, times)])
    unordered = np.stack([_order_blind_features(frames) for frames, _ in clips])
    for features in (one_frame, unordered):
        assert _nearest_centroid_accuracy(features, labels) < chance + 0.15


@pytest.mark.parametrize('variant', ['default', 'fast', 'slow', 'textured background'])
def test_the_order_of_the_frames_carries_the_label(variant):
    """The mean frame-to-frame shift (phase correlation of the grey frames) predicts the
    direction far above chance; reversed in time, it predicts the opposite one."""
    import cv2
    motion = VARIANTS.get(variant, Motion())
    clips = [default_clip('train', i, motion=motion) for i in range(96)]
    labels = np.array([label for _, label in clips])

    def shift(frames):
        grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float64) for f in frames]
        return np.mean([cv2.phaseCorrelate(a, b)[0] for a, b in zip(grey, grey[1:])], axis=0)

    shifts = np.stack([shift(frames) for frames, _ in clips])
    reversed_shifts = np.stack([shift(frames[::-1]) for frames, _ in clips])
    angle = np.arctan2(-shifts[:, 1], shifts[:, 0])
    predicted = np.round(angle / (2 * np.pi / 8)).astype(int) % 8
    assert (predicted == labels).mean() > 0.8
    reverse = np.arctan2(-reversed_shifts[:, 1], reversed_shifts[:, 0])
    assert (np.round(reverse / (2 * np.pi / 8)).astype(int) % 8 == (labels + 4) % 8).mean() > 0.8


def test_textured_background_is_busier_and_jitters_further():
    """Background alone (no objects): the textured one has far more edge energy than the smooth
    one (whose edges are its pixel noise), and moves by more than the smooth one's 2 px between frames."""
    import cv2

    def background_only(background):
        clips = [default_clip('train', i, motion=Motion(objects=(0, 0), background=background))[0]
                 for i in range(8)]
        edges = np.mean([np.abs(np.diff(c.astype(np.float64), axis=2)).mean() for c in clips])
        shifts = [np.abs(cv2.phaseCorrelate(*(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(
            np.float64) for f in pair))[0]).max() for c in clips for pair in zip(c, c[1:])]
        return edges, max(shifts)

    smooth_edges, smooth_shift = background_only('smooth')
    textured_edges, textured_shift = background_only('textured')
    assert textured_edges > 1.5 * smooth_edges
    assert smooth_shift <= 2.5 < textured_shift <= 6.5
