"""What a MotionSqueeze module sees: displacement and confidence per frame pair, at image size."""
import os
import os.path as osp
from typing import List, NamedTuple, Optional

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..datasets.video_decoders import installed
from .flow import flow_legend, flow_to_color

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


class MotionVisualization(NamedTuple):
    """Arrays for T frames and their T - 1 neighbouring pairs.

    Attributes:
        frames (np.ndarray): (T, H, W, 3) uint8 RGB, as fed to the model.
        displacement (np.ndarray): (T - 1, 2, H, W) float32 (u, v) in pixels from frame t to
            t + 1 (u right, v down), upsampled from the module's feature map.
        confidence (np.ndarray): (T - 1, H, W) float32 in [0, 1], upsampled likewise.
        stride (float): Image pixels per feature-map cell.
    """
    frames: np.ndarray
    displacement: np.ndarray
    confidence: np.ndarray
    stride: float


def load_frames(path: str, num_frames: int, start: int = 0, interval: int = 1,
                size: Optional[int] = None) -> np.ndarray:
    """``num_frames`` frames from a video file or a folder of images, (T, H, W, 3) uint8 RGB.

    Frames ``start, start + interval, ...`` are taken; with ``size`` the short side is resized
    to it. Raises FileNotFoundError for a missing path and ValueError for an unreadable or too
    short input.
    """
    if not osp.exists(path):
        raise FileNotFoundError(f'{path} does not exist')
    indices = list(range(start, start + interval * num_frames, interval))
    if osp.isdir(path):
        files = sorted(f for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS))
        if len(files) <= indices[-1]:
            raise ValueError(f'{path} has {len(files)} images; frames {indices[0]}..{indices[-1]} '
                             'were asked for')
        frames = []
        for i in indices:
            image = cv2.imread(osp.join(path, files[i]))
            if image is None:
                raise ValueError(f'cannot decode image {osp.join(path, files[i])}')
            frames.append(image[..., ::-1])
        frames = np.stack(frames)
    else:
        length = count_frames(path)
        if length <= indices[-1]:
            raise ValueError(f'{path} has {length} frames; frames {indices[0]}..{indices[-1]} '
                             'were asked for')
        frames = _video_frames(path, indices)
    if size is not None:
        h, w = frames.shape[1:3]
        scale = size / min(h, w)
        new = (max(1, round(w * scale)), max(1, round(h * scale)))
        frames = np.stack([cv2.resize(f, new, interpolation=cv2.INTER_AREA) for f in frames])
    return np.ascontiguousarray(frames)


def _motion_module(model: nn.Module, index: int) -> nn.Module:
    modules = [m for m in model.modules() if type(m).__name__ == 'MotionSqueeze']
    if not modules:
        raise ValueError(f'{type(model).__name__} has no MotionSqueeze module')
    return modules[index]


@torch.no_grad()
def estimate_motion(model: nn.Module, frames: np.ndarray, module_index: int = 0) -> MotionVisualization:
    """Run ``model``'s backbone on one clip and read out a MotionSqueeze module's maps.

    Args:
        model (nn.Module): An MSNet recognizer (in eval mode) with an ``ActionDataPreprocessor``.
        frames (np.ndarray): (T, H, W, 3) uint8 RGB; T must equal the module's ``num_segments``.
        module_index (int): Which MotionSqueeze module. Defaults to 0.
    """
    module = _motion_module(model, module_index)
    if len(frames) != module.num_segments:
        raise ValueError(f'the module pairs {module.num_segments} frames, got {len(frames)}')
    device = next(model.parameters()).device
    inputs = torch.from_numpy(frames).permute(0, 3, 1, 2).float().to(device)
    preprocessor = model.data_preprocessor
    inputs = (inputs - preprocessor.mean.view(1, 3, 1, 1)) / preprocessor.std.view(1, 3, 1, 1)
    seen = {}
    hook = module.register_forward_hook(lambda mod, args, out: seen.setdefault('x', args[0]))
    try:
        model.backbone(inputs)
    finally:
        hook.remove()
    maps = module.estimate(seen['x'])
    height, width = frames.shape[1:3]
    stride = width / seen['x'].shape[-1]
    pixels = module.max_displacement * module.dilation * stride
    displacement = F.interpolate(maps.displacement[0] * pixels, size=(height, width),
                                 mode='bilinear', align_corners=False)
    confidence = F.interpolate(maps.confidence[0], size=(height, width), mode='bilinear',
                               align_corners=False)[:, 0]
    return MotionVisualization(frames, displacement.float().cpu().numpy(),
                               confidence.float().clamp(0, 1).cpu().numpy(), stride)


def warp_back(next_frame: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Reconstruct frame t from frame t + 1: ``out[y, x] = next[y + v, x + u]`` (bilinear)."""
    h, w = u.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(next_frame, xs + u.astype(np.float32), ys + v.astype(np.float32),
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _label(image: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((18, image.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, image])


def render_pairs(vis: MotionVisualization, max_magnitude: Optional[float] = None) -> List[np.ndarray]:
    """One RGB row per pair: frame t, frame t + 1, t + 1 warped back, displacement, confidence.

    The displacement panel carries the colour-wheel legend in its corner and the magnitude shown
    fully saturated (``max_magnitude`` pixels, default the clip's largest).
    """
    if max_magnitude is None:
        max_magnitude = max(float(np.hypot(*vis.displacement[:, :2].transpose(1, 0, 2, 3)).max()),
                            1e-6)
    height, width = vis.frames.shape[1:3]
    legend_side = max(16, min(height, width) // 4)
    legend = cv2.resize(flow_legend(64), (legend_side, legend_side), interpolation=cv2.INTER_AREA)
    rows = []
    for t, (u, v) in enumerate(vis.displacement):
        flow = flow_to_color(u, v, max_magnitude)
        flow[:legend_side, -legend_side:] = legend
        heat = cv2.applyColorMap(np.round(255 * vis.confidence[t]).astype(np.uint8),
                                 cv2.COLORMAP_VIRIDIS)[..., ::-1]
        panels = [(vis.frames[t], f'frame {t}'), (vis.frames[t + 1], f'frame {t + 1}'),
                  (warp_back(vis.frames[t + 1], u, v), f'{t + 1} warped to {t}'),
                  (flow, f'displacement (max {max_magnitude:.1f} px)'), (heat, 'confidence')]
        rows.append(np.concatenate([_label(np.ascontiguousarray(p), text) for p, text in panels],
                                   axis=1))
    return rows


def count_frames(path: str) -> int:
    """Frames in a video file (read with decord where it is installed, else OpenCV) or images in
    a folder."""
    if osp.isdir(path):
        return len([f for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS)])
    if installed('decord'):
        import decord
        try:
            return len(decord.VideoReader(path))
        except Exception as error:  # decord raises its own DECORDError
            raise ValueError(f'cannot decode video {path}: {error}') from None
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise ValueError(f'cannot decode video {path}')
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


def _video_frames(path: str, indices: List[int]) -> np.ndarray:
    """Frames ``indices`` (ascending) of a video file, (T, H, W, 3) uint8 RGB."""
    if installed('decord'):
        import decord
        return decord.VideoReader(path).get_batch(indices).asnumpy()
    capture = cv2.VideoCapture(path)
    frames, wanted = {}, set(indices)
    try:
        for index in range(indices[-1] + 1):
            ok, image = capture.read()
            if not ok:
                raise ValueError(f'cannot decode frame {index} of {path}')
            if index in wanted:
                frames[index] = image[..., ::-1]
    finally:
        capture.release()
    return np.stack([frames[i] for i in indices])


def visualize_video(model: nn.Module, path: str, out_dir: str, size: Optional[int] = 224,
                    interval: int = 1, max_clips: Optional[int] = None, fps: float = 4.0,
                    module_index: int = 0) -> List[str]:
    """Write motion figures for consecutive clips of a video (or frame folder).

    Clip k holds frames ``k (T - 1) interval + j interval`` for j < T, so consecutive clips share a
    frame and every neighbouring pair is shown once. Per clip: ``clip_KKK.png`` (one row per
    pair) and ``clip_KKK.npz`` (``frames``, ``displacement`` in pixels, ``confidence``,
    ``stride``); for the whole run ``motion.gif``, one animation frame per pair.

    Returns:
        list[str]: The written files.
    """
    from mmengine.utils import ProgressBar
    from PIL import Image
    num_frames = _motion_module(model, module_index).num_segments
    span = (num_frames - 1) * interval
    clips = (count_frames(path) - 1) // span
    if clips == 0:
        raise ValueError(f'{path} is shorter than one clip of {num_frames} frames at interval '
                         f'{interval}')
    if max_clips is not None:
        clips = min(clips, max_clips)
    os.makedirs(out_dir, exist_ok=True)
    written, animation = [], []
    progress = ProgressBar(clips)
    for k in range(clips):
        vis = estimate_motion(model, load_frames(path, num_frames, k * span, interval, size),
                              module_index)
        rows = render_pairs(vis)
        stem = osp.join(out_dir, f'clip_{k:03d}')
        cv2.imwrite(f'{stem}.png', np.concatenate(rows)[..., ::-1])
        np.savez_compressed(f'{stem}.npz', frames=vis.frames, displacement=vis.displacement,
                            confidence=vis.confidence, stride=vis.stride)
        written += [f'{stem}.png', f'{stem}.npz']
        animation += [Image.fromarray(row) for row in rows]
        progress.update()
    gif = osp.join(out_dir, 'motion.gif')
    animation[0].save(gif, save_all=True, append_images=animation[1:],
                      duration=int(1000 / fps), loop=0)
    return written + [gif]
