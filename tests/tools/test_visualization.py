"""Motion figures (tools/visualize_motion.py) and the demo (tools/demo.py)."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from helpers import MSNET_CONFIG, python
from PIL import Image

from msnet_mmaction.visualization import flow_legend, flow_to_color, warp_back


def moving_patch(dx: int, dy: int, size=64, side=24, frames=8, seed=0):
    """Frames of a textured square moving (dx, dy) px per frame over a smooth background."""
    rng = np.random.default_rng(seed)
    background = cv2.resize(rng.uniform(60, 190, (8, 8, 3)).astype(np.float32), (size, size),
                            interpolation=cv2.INTER_CUBIC)
    mask = np.kron(rng.random((side // 3, side // 3)) < 0.5, np.ones((3, 3), bool))
    patch = np.where(mask[..., None], (250, 30, 30), (20, 20, 220)).astype(np.float32)
    x0, y0 = 8 + (dx < 0) * 28, 8 + (dy < 0) * 28
    clip = []
    for t in range(frames):
        frame = background.copy()
        frame[y0 + dy * t:y0 + dy * t + side, x0 + dx * t:x0 + dx * t + side] = patch
        clip.append(frame)
    return np.clip(np.stack(clip), 0, 255).astype(np.uint8), (x0, y0, side)


def save_folder(frames: np.ndarray, folder: str) -> str:
    os.makedirs(folder, exist_ok=True)
    for t, frame in enumerate(frames, start=1):
        cv2.imwrite(osp.join(folder, f'img_{t:05d}.png'), frame[..., ::-1])
    return folder


def test_flow_colours_follow_direction():
    right = flow_to_color(np.ones((1, 1)), np.zeros((1, 1)), 1.0)[0, 0]
    left = flow_to_color(-np.ones((1, 1)), np.zeros((1, 1)), 1.0)[0, 0]
    still = flow_to_color(np.zeros((1, 1)), np.zeros((1, 1)), 1.0)[0, 0]
    assert still.tolist() == [255, 255, 255]
    assert right.tolist() == [255, 0, 0]  # rightward flow is red, as in the Middlebury wheel
    assert left[2] > left[0] and left[1] > left[0]  # leftward flow is cyan-blue
    legend = flow_legend(33)
    assert legend.shape == (33, 33, 3) and legend[16, 16].tolist() == [255, 255, 255]


def test_warp_back_inverts_a_known_shift():
    frame = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    shifted = np.roll(frame, 3, axis=1)  # content moves 3 px right
    restored = warp_back(shifted, np.full((20, 30), 3.0), np.zeros((20, 30)))
    assert np.array_equal(restored[:, :27], frame[:, :27])


@pytest.mark.slow
@pytest.mark.parametrize('dx, dy', [(4, 0), (0, -4)])
def test_displacement_points_the_right_way(dx, dy, tmp_path):
    frames, (x0, y0, side) = moving_patch(dx, dy)
    folder = save_folder(frames, str(tmp_path / 'frames'))
    out = str(tmp_path / 'vis')
    python('tools/visualize_motion.py', MSNET_CONFIG, folder, '--out-dir', out, '--size', '64')
    saved = np.load(osp.join(out, 'clip_000.npz'))
    assert np.array_equal(saved['frames'], frames)
    assert saved['displacement'].shape == (7, 2, 64, 64) and float(saved['stride']) == 4.0
    warped_error, plain_error = [], []
    for t, (u, v) in enumerate(saved['displacement']):
        x, y = x0 + dx * t, y0 + dy * t
        region = (slice(y + 4, y + side - 4), slice(x + 4, x + side - 4))
        assert u[region].mean() == pytest.approx(dx, abs=1.5)
        assert v[region].mean() == pytest.approx(dy, abs=1.5)
        warped = warp_back(frames[t + 1], u, v).astype(float)
        warped_error.append(np.abs(warped - frames[t]).mean())
        plain_error.append(np.abs(frames[t + 1].astype(float) - frames[t]).mean())
    assert np.mean(warped_error) < 0.8 * np.mean(plain_error)
    figure = cv2.imread(osp.join(out, 'clip_000.png'))
    assert figure.shape[0] == 7 * (64 + 18) and figure.shape[1] == 5 * 64
    gif = Image.open(osp.join(out, 'motion.gif'))
    assert gif.n_frames == 7


@pytest.mark.slow
def test_visualize_real_video_end_to_end(sample_video, tmp_path):
    out = str(tmp_path / 'bikes')
    python('tools/visualize_motion.py', MSNET_CONFIG, sample_video, '--out-dir', out, '--size',
           '96', '--max-clips', '2')
    for clip in range(2):
        image = cv2.imread(osp.join(out, f'clip_{clip:03d}.png'))
        assert image is not None and image.shape[1] > 5 * 96
        saved = np.load(osp.join(out, f'clip_{clip:03d}.npz'))
        assert np.isfinite(saved['displacement']).all()
        assert (saved['confidence'] >= 0).all() and (saved['confidence'] <= 1).all()
    gif = Image.open(osp.join(out, 'motion.gif'))
    assert gif.n_frames == 14
    gif.seek(13)
    assert np.asarray(gif.convert('RGB')).std() > 5


@pytest.mark.slow
def test_demo_prints_top_k_with_a_trained_model(trained_run, synthetic_root, sample_video,
                                               tmp_path):
    out = python('tools/demo.py', MSNET_CONFIG, osp.join(trained_run, 'epoch_1.pth'),
                 sample_video, osp.join(synthetic_root, 'label_map.txt'), '--top-k', '3',
                 '--vis-out-dir', str(tmp_path / 'vis')).stdout
    lines = out[out.index('top-3'):].splitlines()[1:4]
    with open(osp.join(synthetic_root, 'label_map.txt')) as f:
        names = [line.strip() for line in f]
    scores = [float(line.split()[-1]) for line in lines]
    assert all(line.split()[0] in names for line in lines)
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
    assert osp.isfile(str(tmp_path / 'vis' / 'motion.gif'))


@pytest.mark.slow
def test_demo_refuses_missing_corrupt_and_unsafe_files(trained_run, synthetic_root, tmp_path):
    labels = osp.join(synthetic_root, 'label_map.txt')
    checkpoint = osp.join(trained_run, 'epoch_1.pth')
    missing = python('tools/demo.py', MSNET_CONFIG, checkpoint, str(tmp_path / 'nope.mp4'), labels,
                     check=False)
    assert missing.returncode != 0 and 'video' in missing.stderr and 'does not exist' in missing.stderr
    corrupt = tmp_path / 'corrupt.mp4'
    corrupt.write_bytes(b'\x00\x00\x00\x18ftypmp42' + os.urandom(2000))
    result = python('tools/demo.py', MSNET_CONFIG, checkpoint, str(corrupt), labels, check=False)
    assert result.returncode != 0 and 'cannot decode video' in result.stderr
    assert 'Traceback' not in result.stderr
    unsafe = tmp_path / 'unsafe.pth'
    torch.save({'state_dict': {}, 'hook': os.getcwd}, str(unsafe))
    video = osp.join(synthetic_root, 'videos', 'val_00000.mp4')
    result = python('tools/demo.py', MSNET_CONFIG, str(unsafe), video, labels, check=False)
    assert result.returncode != 0 and 'Refused to load checkpoint' in result.stderr
    assert 'If you trust this file' in result.stderr
