"""The optical-flow colour wheel (Baker et al., Middlebury): hue is direction, saturation is speed."""
from typing import Optional

import numpy as np

# Hue steps between the six anchor colours red, yellow, green, cyan, blue, magenta.
_SEGMENTS = (('red', 'yellow', 15), ('yellow', 'green', 6), ('green', 'cyan', 4),
             ('cyan', 'blue', 11), ('blue', 'magenta', 13), ('magenta', 'red', 6))
_ANCHORS = dict(red=(255, 0, 0), yellow=(255, 255, 0), green=(0, 255, 0), cyan=(0, 255, 255),
                blue=(0, 0, 255), magenta=(255, 0, 255))


def _wheel() -> np.ndarray:
    """(55, 3) float RGB colours around the wheel."""
    colours = []
    for start, end, steps in _SEGMENTS:
        a, b = np.array(_ANCHORS[start], float), np.array(_ANCHORS[end], float)
        colours += [a + (b - a) * k / steps for k in range(steps)]
    return np.stack(colours)


WHEEL = _wheel()


def flow_to_color(u: np.ndarray, v: np.ndarray, max_magnitude: Optional[float] = None) -> np.ndarray:
    """Colour-code a displacement field.

    Args:
        u, v (np.ndarray): (H, W) horizontal (right positive) and vertical (down positive)
            displacement.
        max_magnitude (float, optional): Magnitude shown fully saturated. Defaults to the
            field's largest magnitude.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB; white is no motion.
    """
    magnitude = np.hypot(u, v)
    if max_magnitude is None:
        max_magnitude = float(magnitude.max())
    radius = np.clip(magnitude / max(max_magnitude, 1e-9), 0, 1)
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]
    position = (angle + 1) / 2 * (len(WHEEL) - 1)
    low = np.floor(position).astype(int)
    high = (low + 1) % len(WHEEL)
    weight = (position - low)[..., None]
    colour = ((1 - weight) * WHEEL[low] + weight * WHEEL[high]) / 255
    colour = 1 - radius[..., None] * (1 - colour)
    return np.round(255 * colour).astype(np.uint8)


def flow_legend(size: int = 64) -> np.ndarray:
    """(size, size, 3) uint8 RGB disc showing the colour of every direction and magnitude."""
    grid = (np.arange(size) - (size - 1) / 2) / ((size - 1) / 2)
    u, v = np.meshgrid(grid, grid)
    legend = flow_to_color(u, v, max_magnitude=1.0)
    legend[np.hypot(u, v) > 1] = 255
    return legend
