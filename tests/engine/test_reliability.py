"""Bad data, bad inputs, interrupted and distributed runs, reproducibility and export."""
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from helpers import MSNET_CONFIG, REPO, run
from mmaction.registry import DATASETS, MODELS
from mmengine.config import Config

from msnet_mmaction.datasets import AnnotationError, BadSampleError


def dataset_cfg(root: str, kind: str = 'rawframes', **kwargs):
    config = MSNET_CONFIG if kind == 'rawframes' else MSNET_CONFIG.replace('.py', '-videos.py')
    os.environ['MSNET_SYNTHETIC_ROOT'] = root
    try:
        cfg = Config.fromfile(config).train_dataloader.dataset
    finally:
        del os.environ['MSNET_SYNTHETIC_ROOT']
    cfg.update(kwargs)
    return cfg


def test_bad_label_fails_naming_file_and_line(synthetic_root, tmp_path):
    ann = tmp_path / 'list.txt'
    ann.write_text('train_00000 8 0\ntrain_00001 8 one\n')
    cfg = dataset_cfg(synthetic_root, ann_file=str(ann))
    with pytest.raises(AnnotationError, match=r'list.txt:2: label .one. is not an integer'):
        DATASETS.build(cfg)
    ann.write_text('train_00000 8 0\n\ntrain_00001 8 9\n')
    with pytest.raises(AnnotationError, match=r'list.txt:3: label .9. is not an integer in 0..7'):
        DATASETS.build(dict(cfg, max_label=7))


@pytest.mark.parametrize('kind, index, media', [('rawframes', 3, 'train_00003'),
                                                ('videos', 4, 'train_00004.mp4'),
                                                ('videos', 6, 'train_00006.mp4')])
def test_unreadable_sample_names_line_and_file(broken_root, kind, index, media):
    dataset = DATASETS.build(dataset_cfg(broken_root, kind))
    with pytest.raises(BadSampleError, match=rf'train_list_{kind}.txt:{index + 1}: cannot load '
                                             rf'.*{re.escape(media)}'):
        dataset[index]
    assert dataset[index + 1]['inputs'].shape == (8, 3, 64, 64)


def test_opt_in_skip_counts_and_logs(broken_root):
    dataset = DATASETS.build(dataset_cfg(broken_root, 'videos', skip_bad_samples=True))
    np.random.seed(0)
    items = [dataset[i] for i in range(len(dataset))]
    assert all(item['inputs'].shape == (8, 3, 64, 64) for item in items)
    assert dataset.skipped_samples >= 2  # the two bad videos, and any drawn as replacements
    test_set = DATASETS.build(dataset_cfg(broken_root, 'videos', skip_bad_samples=True,
                                          test_mode=True))
    with pytest.raises(BadSampleError):
        test_set[4]


@pytest.mark.slow
def test_training_on_bad_data_stops_with_the_line(broken_root, tmp_path):
    result = run([sys.executable, 'tools/train.py', MSNET_CONFIG.replace('.py', '-videos.py'),
                  '--work-dir', str(tmp_path / 'wd'), '--cfg-options',
                  'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
                  'train_dataloader.sampler.shuffle=False'],
                 env=dict(MSNET_SYNTHETIC_ROOT=broken_root), check=False, timeout=300)
    assert result.returncode != 0
    assert 'train_list_videos.txt:5: cannot load' in result.stderr + result.stdout


def test_bad_model_inputs_say_what_was_expected():
    model = MODELS.build(Config.fromfile(MSNET_CONFIG).model).eval()
    with torch.no_grad():
        model.extract_feat(torch.randn(1, 8, 3, 16, 16))
        with pytest.raises(ValueError, match='at least 2x2 .* got 1x1'):
            model.extract_feat(torch.randn(1, 8, 3, 4, 4))
        with pytest.raises(ValueError, match='num_segments=8 frames, but each sample has 6'):
            model.extract_feat(torch.randn(1, 6, 3, 64, 64))
        x = torch.randn(2, 8, 3, 64, 64)
        x[1, 2, :, 10:20, 10:20] = float('inf')  # TSM's shifts spread it to the clip's other frames
        with pytest.raises(FloatingPointError, match=r'NaN/Inf\) in the correlation input at clip 1'):
            model.extract_feat(x)
        with pytest.raises(FloatingPointError, match='at clip 1'):  # checked after the head ran
            model(x, mode='tensor')


def test_module_on_a_backbone_without_the_stage():
    cfg = dict(type='MSNet', backbone=dict(type='MobileNetV2TSM', pretrained=None,
                                           pretrained2d=False, num_segments=4),
               cls_head=dict(type='TSMHead', num_classes=3, in_channels=1280, num_segments=4),
               motion=dict(type='MotionSqueeze', in_channels=32, insert_after='layer9'))
    with pytest.raises(ValueError, match=r"model.motion\[0\].insert_after='layer9' is not a stage "
                                         r'of MobileNetV2TSM; its stages are \[.*layer3'):
        MODELS.build(cfg)


def _losses(log: str):
    return re.findall(r'Epoch\(train\) \[(\d+)\]\[(\d+)/\d+\].*? loss: ([0-9.]+)', log)


def _train_args(work_dir, *extra):
    """Three deterministic epochs of two iterations, a checkpoint per epoch, no validation."""
    return [sys.executable, 'tools/train.py', MSNET_CONFIG, '--work-dir', work_dir, '--seed', '3',
            '--deterministic', *extra, '--cfg-options', 'train_cfg.max_epochs=3', 'val_cfg=None',
            'val_dataloader=None', 'val_evaluator=None', 'default_hooks.logger.interval=1',
            'default_hooks.checkpoint.save_best=None', 'default_hooks.checkpoint.max_keep_ckpts=5',
            'param_scheduler.1.end=3', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False']


def _train(work_dir, root, *extra, **kwargs):
    return run(_train_args(work_dir, *extra), env=dict(MSNET_SYNTHETIC_ROOT=root), **kwargs)


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted_and_runs_are_reproducible(synthetic_root,
                                                                            tmp_path):
    full = str(tmp_path / 'full')
    reference = _train(full, synthetic_root)
    ref_losses = _losses(reference.stdout + reference.stderr)
    assert len(ref_losses) == 6
    killed = str(tmp_path / 'killed')
    env = dict(os.environ, PYTHONPATH=REPO, MSNET_SYNTHETIC_ROOT=synthetic_root)
    process = subprocess.Popen(_train_args(killed), cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if 'Epoch(train) [3][1/2]' in line:  # mid-epoch 3, after epoch_2.pth was saved
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not osp.exists(osp.join(killed, 'epoch_3.pth'))
    # Reproducibility: a second process with the same seed logs the same losses.
    assert _losses(''.join(lines)) == ref_losses[:5]
    resumed = _train(killed, synthetic_root, '--resume')
    log = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 2' in log
    assert _losses(log) == ref_losses[4:]
    final = torch.load(osp.join(killed, 'epoch_3.pth'), map_location='cpu', weights_only=True)
    expected = torch.load(osp.join(full, 'epoch_3.pth'), map_location='cpu', weights_only=True)
    assert final['meta']['epoch'] == expected['meta']['epoch'] == 3
    for key, value in expected['state_dict'].items():
        assert torch.equal(final['state_dict'][key], value), key
    for group, ref_group in zip(final['optimizer']['param_groups'],
                                expected['optimizer']['param_groups']):
        assert group['lr'] == ref_group['lr']
    for key, state in expected['optimizer']['state'].items():
        for name, tensor in state.items():
            assert torch.equal(final['optimizer']['state'][key][name], tensor)
    assert final['param_schedulers'] == expected['param_schedulers']


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason='exercises the CPU (gloo) path')
def test_killing_one_rank_ends_the_job_and_it_resumes(synthetic_root, tmp_path):
    work_dir = str(tmp_path / 'dist')
    env = dict(os.environ, PYTHONPATH=REPO, MSNET_SYNTHETIC_ROOT=synthetic_root, PORT='29533',
               PYTHONWARNINGS='ignore')
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    args = ['bash', 'tools/dist_train.sh', MSNET_CONFIG.replace('msnet_', 'tsm_'), '2',
            '--work-dir', work_dir, '--cfg-options', 'train_cfg.max_epochs=50', 'val_cfg=None',
            'val_dataloader=None', 'val_evaluator=None', 'default_hooks.checkpoint.save_best=None',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False']
    process = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 240
    while not osp.exists(osp.join(work_dir, 'epoch_1.pth')) and time.time() < deadline:
        time.sleep(0.5)
    assert osp.exists(osp.join(work_dir, 'epoch_1.pth'))
    time.sleep(2)
    # dist_train.sh execs torchrun, whose children are the two ranks.
    ranks = subprocess.run(['pgrep', '-P', str(process.pid)], capture_output=True,
                           text=True).stdout.split()
    assert len(ranks) == 2
    os.kill(int(ranks[-1]), signal.SIGKILL)
    try:
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode not in (0, None)
    assert 'Signals.SIGKILL' in output or 'exitcode  : -9' in output
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        last = int(re.search(r'epoch_(\d+)\.pth', f.read()).group(1))
    resumed = run(['bash', 'tools/dist_train.sh', MSNET_CONFIG.replace('msnet_', 'tsm_'), '2',
                   '--work-dir', work_dir, '--resume', '--cfg-options',
                   f'train_cfg.max_epochs={last + 1}', 'val_cfg=None', 'val_dataloader=None',
                   'val_evaluator=None', 'default_hooks.checkpoint.save_best=None'],
                  env=dict(MSNET_SYNTHETIC_ROOT=synthetic_root, PORT='29534'), timeout=300)
    assert f'resumed epoch: {last}' in resumed.stdout + resumed.stderr
    assert osp.exists(osp.join(work_dir, f'epoch_{last + 1}.pth'))


def test_torch_export_matches_eager(tmp_path):
    from msnet_mmaction.deployment import export_recognizer
    cfg = Config.fromfile(MSNET_CONFIG)
    model = MODELS.build(cfg.model).eval()
    inputs = torch.randn(1, 8, 3, 64, 64)
    path = str(tmp_path / 'msnet.pt2')
    export_recognizer(model, inputs, path)
    program = torch.export.load(path)
    with torch.no_grad():
        eager = model._forward(inputs, stage='head')
        exported = program.module()(inputs)
    torch.testing.assert_close(exported, eager, rtol=1e-4, atol=1e-4)
    other = torch.randn(1, 8, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(other), model._forward(other, stage='head'),
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_export_tool_torch_export_and_onnx(tmp_path):
    pytest.importorskip('onnxruntime')
    out, onnx_file = str(tmp_path / 'model.pt2'), str(tmp_path / 'model.onnx')
    result = run([sys.executable, 'tools/deployment/export.py', MSNET_CONFIG, '--out', out,
                  '--onnx', onnx_file, '--shape', '64', '64'])
    assert osp.getsize(out) > 0 and osp.getsize(onnx_file) > 0
    for runtime in ('exported', 'onnxruntime'):
        difference = re.search(rf'max \|{runtime} - eager\| = ([0-9.e+-]+)', result.stdout)
        assert difference is not None and float(difference.group(1)) < 1e-4, result.stdout
