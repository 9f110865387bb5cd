"""The synthetic motion dataset: determinism, both MMAction2 formats, and motion-only labels."""
import hashlib
import os
import os.path as osp
import sys

import numpy as np
import pytest
from conftest import REPO, python
from mmaction.registry import DATASETS
from mmengine.config import Config

sys.path.insert(0, osp.join(REPO, 'tools', 'data'))
from make_synthetic_motion import DIRECTIONS, make_clip, parse_args  # noqa: E402

DEFAULTS = parse_args(['--out', 'unused'])


def default_clip(split: str, index: int, seed: int = 0):
    """Clip ``index`` of ``split`` as the generator's defaults (at 64 px) make it."""
    return make_clip(seed, split, index, 64, DEFAULTS.frames, tuple(DEFAULTS.speed),
                     tuple(DEFAULTS.objects))


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


def test_single_frames_carry_no_label():
    """Mean first-frame appearance does not separate the classes: a nearest-centroid classifier
    on frame statistics stays near chance, while the true displacement separates them exactly."""
    rng_clips = [default_clip('train', i) for i in range(160)]
    feats = np.stack([clip[0].reshape(-1, 3).mean(0) for clip, _ in rng_clips])
    labels = np.array([label for _, label in rng_clips])
    train, test = slice(0, 80), slice(80, 160)
    centroids = np.stack([feats[train][labels[train] == c].mean(0) for c in range(8)])
    predicted = np.argmin(((feats[test][:, None] - centroids) ** 2).sum(-1), axis=1)
    assert (predicted == labels[test]).mean() < 0.3
