"""Mixed precision on the CPU (CPUAmpOptimWrapper, bfloat16 autocast) and channels-last."""
import os.path as osp

import pytest
import torch
from helpers import MSNET_CONFIG, python

from msnet_mmaction.apis import build_recognizer


@pytest.mark.slow
def test_amp_training_on_cpu(synthetic_root, tmp_path):
    work_dir = str(tmp_path / 'amp')
    out = python('tools/train.py', MSNET_CONFIG, '--amp', '--work-dir', work_dir, '--cfg-options',
                 'train_dataloader.batch_size=1', 'train_dataloader.dataset.indices=1',
                 'default_hooks.logger.interval=1',
                 env=dict(MSNET_SYNTHETIC_ROOT=synthetic_root))
    log = out.stdout + out.stderr
    assert "type='CPUAmpOptimWrapper'" in log
    loss = float(log.split('Epoch(train) [1][1/1]')[1].split('loss: ')[1].split()[0])
    assert torch.isfinite(torch.tensor(loss))
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))


def test_bf16_autocast_and_channels_last_match_fp32():
    torch.manual_seed(0)
    model = build_recognizer(MSNET_CONFIG).eval()
    inputs = torch.randn(2 * 8, 3, 64, 64)
    with torch.no_grad():
        reference = model.backbone(inputs)
        channels_last = model.backbone(inputs.contiguous(memory_format=torch.channels_last))
        with torch.autocast('cpu', dtype=torch.bfloat16):
            mixed = model.backbone(inputs)
    torch.testing.assert_close(channels_last, reference, rtol=1e-4, atol=1e-4)
    assert mixed.dtype == torch.bfloat16 and torch.isfinite(mixed).all()
    relative = (mixed.float() - reference).norm() / reference.norm()
    assert relative < 0.05
    motion = model.backbone.motion_modules[0]
    features = torch.randn(16, 64, 16, 16)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        maps = motion.estimate(features.bfloat16())
    assert maps.displacement.dtype == torch.float32 and torch.isfinite(maps.displacement).all()
