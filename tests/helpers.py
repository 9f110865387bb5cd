"""Helpers the tests share: running the tools, and independent formulas of the operators and
small models to check them against."""
import os
import re
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmaction.structures import ActionDataSample

from msnet_mmaction.analysis import correlation_unfold

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MSNET_CONFIG = osp.join(REPO, 'configs', 'msnet_r18_8f_synthetic-motion.py')


def run(args: List[str], env: Optional[Dict[str, str]] = None, timeout: int = 600,
        check: bool = True, cwd: str = REPO, checkout: bool = True) -> subprocess.CompletedProcess:
    """Run a command in ``cwd`` (the repository root) with this interpreter's environment, and
    the checkout importable unless ``checkout`` is False."""
    full_env = dict(os.environ, PYTHONPATH=REPO, PYTHONWARNINGS='ignore')
    if not checkout:
        del full_env['PYTHONPATH']
    full_env.update(env or {})
    full_env['PATH'] = osp.dirname(sys.executable) + os.pathsep + full_env['PATH']
    result = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f'{args} exited {result.returncode}\n'
                             f'{failure_excerpt(result.stderr)}\n'
                             f'--- end of stdout ---\n{result.stdout[-1500:]}')
    return result


def failure_excerpt(text: str, limit: int = 4000) -> str:
    """From the first traceback (the root cause) on, else the last ``limit`` characters."""
    start = text.find('Traceback (most recent call last)')
    return text[start:][:limit] if start >= 0 else text[-limit:]


def python(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return run([sys.executable, *args], **kwargs)


def reference_correlation(a, b, d, s):
    """The defining formula, one output element at a time (slow; small inputs only)."""
    n, c, h, w = a.shape
    p = 2 * d + 1
    out = torch.zeros(n, p * p, h, w, dtype=a.dtype)
    for i in range(p):
        for j in range(p):
            for y in range(h):
                for x in range(w):
                    yy, xx = y + (i - d) * s, x + (j - d) * s
                    if 0 <= yy < h and 0 <= xx < w:
                        out[:, i * p + j, y, x] = (a[:, :, y, x] * b[:, :, yy, xx]).sum(1)
    return out


def soft_argmax_formula(volume, d, sigma=5.0, temperature=100.0):
    """The kernel soft-argmax written out plainly, in the volume's dtype: displacement
    (N, 2, H, W) and confidence (N, 1, H, W)."""
    p = 2 * d + 1
    scores = F.relu(volume.permute(0, 2, 3, 1))
    peak = volume.permute(0, 2, 3, 1).argmax(-1, keepdim=True)  # the first arg-max of the raw scores
    ii, jj = (t.flatten() for t in torch.meshgrid(torch.arange(p), torch.arange(p), indexing='ij'))
    distance = ((ii - peak // p)**2 + (jj - peak % p)**2).to(volume.dtype)
    window = torch.exp(-distance / (2 * sigma**2))
    weights = torch.softmax(temperature * scores * window, -1)
    scale = max(d, 1)
    u_v = torch.stack(((weights * (jj - d)).sum(-1), (weights * (ii - d)).sum(-1)), 1) / scale
    return u_v, scores.gather(-1, peak).permute(0, 3, 1, 2)


def values_and_grads(fn, *inputs, seed=0):
    """``fn(*inputs)``'s outputs (one tensor or several), then the inputs' gradients against
    seeded random probes of every output, all on the CPU."""
    inputs = [x.detach().requires_grad_() for x in inputs]
    outputs = fn(*inputs)
    outputs = (outputs, ) if isinstance(outputs, torch.Tensor) else tuple(outputs)
    generator = torch.Generator().manual_seed(seed)
    probes = [torch.randn(t.shape, generator=generator, dtype=torch.float64).to(t)
              for t in outputs]
    grads = torch.autograd.grad(sum((t * probe).sum() for t, probe in zip(outputs, probes)),
                                inputs)
    return tuple(t.detach().cpu() for t in outputs + grads)


def correlation_volume(n, channels, h, w, d, noise=0.3, seed=0):
    """A correlation of normalised features with a noisy copy of themselves: a peak near zero
    displacement, values in [-1, 1], as the module sees them."""
    generator = torch.Generator().manual_seed(seed)
    a = F.normalize(torch.randn(n, channels, h, w, generator=generator), dim=1)
    b = F.normalize(a + noise * torch.randn(a.shape, generator=generator), dim=1)
    return correlation_unfold(a, b, d)


PREPROCESSOR = dict(type='ActionDataPreprocessor', mean=[128.] * 3, std=[64.] * 3,
                    format_shape='NCHW')


def tsm_cfg(depth=18, num_segments=4, num_classes=5, **motion):
    """An MSNet config: ResNet-TSM of ``depth`` with one module after ``layer2``."""
    channels = {18: 512, 34: 512, 50: 2048, 101: 2048}[depth]
    stage = {18: 128, 34: 128, 50: 512, 101: 512}[depth]
    return dict(
        type='MSNet',
        backbone=dict(type='ResNetTSM', depth=depth, pretrained=None, pretrained2d=False,
                      num_segments=num_segments),
        cls_head=dict(type='TSMHead', num_classes=num_classes, in_channels=channels,
                      num_segments=num_segments, average_clips='prob'),
        motion=dict(type='MotionSqueeze', in_channels=stage, **motion),
        data_preprocessor=PREPROCESSOR)


def samples(labels):
    return [ActionDataSample().set_gt_label(label) for label in labels]


def fake_batch(clips, views, frames, size=56, labels=None):
    """A data batch of random uint8 clips, ``views`` x ``frames`` frames each."""
    inputs = [torch.randint(0, 255, (views * frames, 3, size, size), dtype=torch.uint8)
              for _ in range(clips)]
    return dict(inputs=inputs, data_samples=samples(labels or [0] * clips))


#: Classes of the released Something-Something checkpoints.
NUM_CLASSES = 174


def official_state_dict():
    """Random tensors with the released key names and shapes, as DataParallel saved them. Row ``k``
    of the classifier is tagged with ``k`` (weight) and ``1000 + k`` (bias)."""
    torch.manual_seed(0)
    state = {}
    with open(osp.join(REPO, 'tests', 'data', 'official_msnet_r50_state_dict.txt')) as f:
        for line in f:
            if line.startswith('#'):
                continue
            name, shape = line.rstrip('\n').split('\t')
            size = tuple(int(s) for s in re.findall(r'\d+', shape))
            dtype = torch.int64 if name.endswith('num_batches_tracked') else torch.float32
            value = torch.randint(0, 100, size) if dtype == torch.int64 else torch.randn(size)
            state[f'module.base_model.{name}'] = value
    rows = torch.arange(NUM_CLASSES, dtype=torch.float32)
    state['module.new_fc.weight'] = rows[:, None, None].expand(NUM_CLASSES, 2048, 1).clone()
    state['module.new_fc.bias'] = 1000 + rows
    return state
