"""tools/dist_train.sh on a machine without CUDA: two gloo processes through torchrun."""
import os.path as osp
import sys

import pytest
import torch
from helpers import MSNET_CONFIG, run

from msnet_mmaction.compat import CPUDistributedDataParallel


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason='exercises the CPU fallback')
def test_dist_train_two_cpu_processes(synthetic_root, tmp_path):
    work_dir = str(tmp_path / 'dist')
    config = osp.join(osp.dirname(MSNET_CONFIG), 'tsm_r18_8f_synthetic-motion.py')
    result = run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir,
                  '--cfg-options', 'train_cfg.max_epochs=1', 'env_cfg.dist_cfg.backend=nccl'],
                 # PYTHON is the launchers' interpreter: this one, whatever the caller's is.
                 env=dict(MSNET_SYNTHETIC_ROOT=synthetic_root, PORT='29517', PYTHON=sys.executable))
    log = result.stdout + result.stderr
    assert 'Distributed training: True' in log
    assert "type='CPUDistributedDataParallel'" in log
    # 16 clips at batch 8 are two iterations on one process; each of two ranks gets one.
    assert 'Epoch(train) [1][1/1]' in log
    checkpoint = torch.load(osp.join(work_dir, 'epoch_1.pth'), map_location='cpu', weights_only=True)
    assert checkpoint['meta']['epoch'] == 1


def test_cpu_wrapper_drops_device_ids_only_on_cpu(monkeypatch):
    seen = {}

    def fake_init(self, module, **kwargs):
        seen.update(kwargs)

    monkeypatch.setattr(CPUDistributedDataParallel.__mro__[1], '__init__', fake_init)
    CPUDistributedDataParallel(torch.nn.Linear(2, 2), device_ids=[0], broadcast_buffers=False)
    assert seen == dict(device_ids=None, broadcast_buffers=False)
