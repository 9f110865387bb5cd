"""The package without its checkout: a wheel built from the repository, installed into a fresh
environment with the constraints file, runs the operators (its compiled CPU kernels built from the
sources it ships) and the self-check, inherits ``msnet_mmaction::`` configs and converts a checkpoint; the editable
install inherits the configs the same way."""
import os
import shutil
import sys

import pytest
import torch
from helpers import REPO, official_state_dict, run

INHERITING = '''
_base_ = 'msnet_mmaction::msnet_r50_8f_sthv2.py'
model = dict(cls_head=dict(dropout_ratio=0.25))
'''

CHECKS = '''
import os.path as osp, sys
import torch
import msnet_mmaction
from mmengine.config import Config
from msnet_mmaction.apis import build_recognizer
from msnet_mmaction.apis.official_checkpoint import convert_checkpoint
from msnet_mmaction.ops import kernel_soft_argmax, kernel_soft_argmax_path, local_correlation
from msnet_mmaction.ops import local_correlation_path

print('package', osp.dirname(msnet_mmaction.__file__))
a, b = torch.randn(2, 8, 6, 7), torch.randn(2, 8, 6, 7)
print('paths', local_correlation_path(a, b, 2, 1).kernel, kernel_soft_argmax_path(
    torch.randn(2, 25, 6, 7)).kernel)
volume = local_correlation(a, b, 2)
print('correlation', float((volume - local_correlation(a, b, 2, implementation='reference')).abs().max()))
u_v, _ = kernel_soft_argmax(volume, 2)
print('soft-argmax', float((u_v - kernel_soft_argmax(volume, 2, implementation='reference')[0]).abs().max()))
cfg = Config.fromfile('inheriting.py')
print('config', cfg.model.type, cfg.model.cls_head.dropout_ratio, cfg.train_dataloader.dataset.type)
print('model', type(build_recognizer(cfg)).__name__)
base = Config.fromfile('base_with_folder.py')
print('base', base.model.cls_head.type)
print('converted', convert_checkpoint('official.pth', 'converted.pth', config='inheriting.py').tensors)
'''


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> str:
    """A wheel built from a copy of the repository's package files."""
    source = tmp_path_factory.mktemp('source')
    for name in ('setup.cfg', 'pyproject.toml', 'README.md', 'LICENSE', 'model-index.yml'):
        shutil.copy(os.path.join(REPO, name), source / name)
    for folder in ('msnet_mmaction', 'configs'):
        shutil.copytree(os.path.join(REPO, folder), source / folder, symlinks=True,
                        ignore=shutil.ignore_patterns('__pycache__'))
    dist = tmp_path_factory.mktemp('dist')
    run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w',
         str(dist), str(source)])
    built, = dist.glob('msnet_mmaction-*.whl')
    return str(built)


def write_user_files(directory) -> None:
    (directory / 'inheriting.py').write_text(INHERITING)
    (directory / 'base_with_folder.py').write_text(
        "_base_ = 'msnet_mmaction::_base_/models/tsm_r50_released.py'\n")
    torch.save(dict(state_dict=official_state_dict()), directory / 'official.pth')


@pytest.mark.slow
def test_the_wheel_stands_without_the_checkout(wheel, tmp_path):
    venv = tmp_path / 'venv'
    run([sys.executable, '-m', 'venv', str(venv)])
    python = str(venv / 'bin' / 'python')
    torch_version = torch.__version__.split('+')[0]
    # Without the checkout on the path, where pip would take its egg-info for an installation.
    run([python, '-m', 'pip', 'install', '-q', f'torch=={torch_version}'], timeout=900,
        checkout=False)
    run([python, '-m', 'pip', 'install', '-q', '-c',
         os.path.join(REPO, 'requirements', 'constraints.txt'), wheel], timeout=900,
        checkout=False)
    work = tmp_path / 'work'
    work.mkdir()
    write_user_files(work)
    out = run([python, '-c', CHECKS], env=dict(MSNET_MMACTION_CACHE=str(tmp_path / 'cache')),
              cwd=str(work), checkout=False).stdout
    lines = dict(line.split(' ', 1) for line in out.splitlines() if ' ' in line)
    assert lines['package'].startswith(str(venv))
    assert lines['paths'] == 'cpu-kernel cpu-kernel'
    assert float(lines['correlation']) < 1e-5 and float(lines['soft-argmax']) < 1e-5
    assert lines['config'] == 'MSNet 0.25 CheckedVideoDataset'
    assert lines['model'] == 'MSNet' and lines['base'] == 'InitCfgTSMHead'
    assert int(lines['converted']) > 300
    checked = run([python, '-m', 'msnet_mmaction.check'], cwd=str(work), checkout=False,
                  env=dict(MSNET_MMACTION_CACHE=str(tmp_path / 'cache'))).stdout
    assert '12 of 12 checks agree' in checked
    converted = torch.load(work / 'converted.pth', weights_only=True)['state_dict']
    assert torch.equal(converted['cls_head.fc_cls.bias'],
                       official_state_dict()['module.new_fc.bias'])


@pytest.mark.slow
def test_the_editable_install_inherits_package_configs(tmp_path):
    write_user_files(tmp_path)
    script = CHECKS.split("print('package'")[0] + (
        "cfg = Config.fromfile('inheriting.py')\n"
        "print(cfg.model.type, cfg.model.cls_head.dropout_ratio, cfg.custom_hooks[0].type)\n"
        "print(Config.fromfile('base_with_folder.py').model.cls_head.type)\n")
    out = run([sys.executable, '-c', script], cwd=str(tmp_path), checkout=False).stdout.splitlines()
    assert out[-2:] == ['MSNet 0.25 RandomStateHook', 'InitCfgTSMHead']
