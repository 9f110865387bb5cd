"""Faults a long run meets, each injected for real: unreadable samples in MMAction2's stock
datasets (a truncated mp4, a missing frame), a disk that fills up while a checkpoint is written,
damaged checkpoints, a data loader worker killed mid-epoch, and a non-finite loss. Each checks
the message, and that nothing was lost."""
import hashlib
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import MSNET_CONFIG, REPO, python, run
from mmaction.registry import DATASETS
from mmengine.config import Config
from torch.utils.data import DataLoader

from msnet_mmaction.datasets import BadSampleError, name_sample_errors
from msnet_mmaction.datasets.video_decoders import apply_decoder_switch
from msnet_mmaction.engine import checkpoint_problem

VIDEO_CONFIG = MSNET_CONFIG.replace('.py', '-videos.py')
DECODERS = {
    'decord': [dict(type='DecordInit'), dict(type='SampleFrames', clip_len=1, num_clips=8),
               dict(type='DecordDecode')],
    'opencv': [dict(type='OpenCVInit'), dict(type='SampleFrames', clip_len=1, num_clips=8),
               dict(type='OpenCVDecode')],
    'pyav': [dict(type='PyAVInit'), dict(type='SampleFrames', clip_len=1, num_clips=8),
             dict(type='PyAVDecode')],
}
PACK = [dict(type='Resize', scale=(64, 64), keep_ratio=False),
        dict(type='FormatShape', input_format='NCHW'), dict(type='PackActionInputs')]


def stock_dataset(root: str, kind: str, pipeline=None, **kwargs):
    """MMAction2's own VideoDataset or RawframeDataset over a synthetic set, prepared as
    ``tools/train.py`` prepares it (decoder switch on its pipeline, wrapped by
    :func:`~msnet_mmaction.datasets.name_sample_errors`)."""
    os.environ['MSNET_SYNTHETIC_ROOT'] = root
    try:
        cfg = Config.fromfile(MSNET_CONFIG if kind == 'rawframes' else VIDEO_CONFIG)
    finally:
        del os.environ['MSNET_SYNTHETIC_ROOT']
    dataset = cfg.train_dataloader.dataset
    dataset.type = 'RawframeDataset' if kind == 'rawframes' else 'VideoDataset'
    if pipeline is not None:
        dataset.pipeline = pipeline
    dataset.update(kwargs)
    apply_decoder_switch(cfg)
    name_sample_errors(cfg)
    assert cfg.train_dataloader.dataset.type == 'NamedSampleErrors'
    return DATASETS.build(cfg.train_dataloader.dataset)


@pytest.mark.parametrize('decoder', list(DECODERS))
def test_stock_video_dataset_names_the_truncated_video(broken_root, decoder):
    if decoder == 'pyav':
        pytest.importorskip('av')
    dataset = stock_dataset(broken_root, 'videos', DECODERS[decoder] + PACK)
    assert type(dataset.dataset).__name__ == 'VideoDataset'
    with pytest.raises(BadSampleError, match=r'train_list_videos\.txt:5: cannot load '
                                             r'\S*train_00004\.mp4: \w+'):
        dataset[4]
    with pytest.raises(BadSampleError, match=r'train_list_videos\.txt:7: cannot load '
                                             r'\S*train_00006\.mp4'):
        dataset[6]
    assert dataset[5]['inputs'].shape == (8, 3, 64, 64)


def test_stock_rawframe_dataset_names_the_frame_folder_from_a_worker(broken_root):
    """In a data loader worker process, and for a subset of the list (``indices``), where the
    sample's position no longer gives its line."""
    dataset = stock_dataset(broken_root, 'rawframes', indices=[0, 3, 5])
    assert type(dataset.dataset).__name__ == 'RawframeDataset'
    loader = DataLoader(dataset, batch_size=1, num_workers=1, collate_fn=lambda batch: batch)
    with pytest.raises(Exception, match=r'train_list_rawframes\.txt:4: cannot load '
                                        r'\S*train_00003: FileNotFoundError'):
        list(loader)


@pytest.mark.slow
def test_stock_dataset_skips_bad_samples_when_asked(broken_root):
    dataset = stock_dataset(broken_root, 'videos', skip_bad_samples=True)
    items = [dataset[i] for i in range(len(dataset))]
    assert all(item['inputs'].shape == (8, 3, 64, 64) for item in items)
    assert dataset.skipped_samples >= 2
    test_set = stock_dataset(broken_root, 'videos', skip_bad_samples=True, test_mode=True)
    with pytest.raises(BadSampleError):
        test_set[4]


@pytest.mark.slow
def test_training_a_stock_dataset_skips_from_the_command_line(broken_root, tmp_path):
    """A config naming the stock VideoDataset, switched to skipping with --cfg-options only."""
    result = run([sys.executable, 'tools/train.py', VIDEO_CONFIG, '--work-dir',
                  str(tmp_path / 'wd'), '--cfg-options', 'train_dataloader.dataset.type=VideoDataset',
                  'train_dataloader.dataset.skip_bad_samples=True', 'val_cfg=None',
                  'val_dataloader=None', 'val_evaluator=None',
                  'default_hooks.checkpoint.save_best=None', 'train_dataloader.num_workers=0',
                  'train_dataloader.persistent_workers=False'],
                 env=dict(MSNET_SYNTHETIC_ROOT=broken_root), timeout=300)
    log = result.stdout + result.stderr
    assert 'skipped bad sample (1 so far in this process): ' in log
    assert 'train_list_videos.txt:5: cannot load' in log or 'train_list_videos.txt:7' in log
    assert osp.isfile(tmp_path / 'wd' / 'epoch_1.pth')


def _train_args(work_dir: str, epochs: int, *options: str) -> list:
    """Deterministic epochs of two iterations, a checkpoint per epoch, no validation."""
    return [sys.executable, 'tools/train.py', MSNET_CONFIG, '--work-dir', work_dir, '--seed', '5',
            '--deterministic', '--cfg-options', f'train_cfg.max_epochs={epochs}', 'val_cfg=None',
            'val_dataloader=None', 'val_evaluator=None', 'default_hooks.logger.interval=1',
            'default_hooks.checkpoint.save_best=None', f'param_scheduler.1.end={epochs}',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            *options]


def _resumed(args: list, *checkpoint: str) -> list:
    """The same command with ``--resume [CHECKPOINT]``."""
    split = args.index('--cfg-options')
    return args[:split] + ['--resume', *checkpoint] + args[split:]


def _digest(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def _last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return osp.basename(f.read().strip())


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    """The error line a tool ended with; it must have printed no traceback."""
    assert result.returncode == 1, result.stderr[-3000:]
    assert 'Traceback' not in result.stderr
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_disk_full_while_saving_keeps_the_previous_checkpoint(synthetic_root, tmp_path):
    """The second epoch's checkpoint write fails halfway with ENOSPC."""
    work_dir = str(tmp_path / 'full_disk')
    env = dict(MSNET_SYNTHETIC_ROOT=synthetic_root)
    args = _train_args(work_dir, 3, 'default_hooks.checkpoint.max_keep_ckpts=1')
    failed = run([sys.executable, 'tests/full_disk.py', '2', *args[1:]], env=env, check=False)
    line = _one_line_error(failed)
    assert line.startswith(f'error: could not write {work_dir}/epoch_2.pth (ENOSPC: No space')
    assert 'the previous checkpoint and last_checkpoint are intact' in line
    assert [f for f in os.listdir(work_dir) if '.pth' in f] == ['epoch_1.pth']  # no partial
    assert not [f for f in os.listdir(work_dir) if f.endswith('.partial')]
    assert _last_checkpoint(work_dir) == 'epoch_1.pth'
    assert checkpoint_problem(osp.join(work_dir, 'epoch_1.pth')) is None
    resumed = run(_resumed(args), env=env)
    assert 'resumed epoch: 1' in resumed.stdout + resumed.stderr
    assert _last_checkpoint(work_dir) == 'epoch_3.pth'
    assert sorted(f for f in os.listdir(work_dir) if f.endswith('.pth')) == ['epoch_3.pth']


@pytest.fixture(scope='module')
def two_epochs(synthetic_root, tmp_path_factory) -> str:
    """A work dir with the checkpoints of two epochs."""
    work_dir = str(tmp_path_factory.mktemp('two_epochs'))
    run(_train_args(work_dir, 2, 'default_hooks.checkpoint.max_keep_ckpts=2'),
        env=dict(MSNET_SYNTHETIC_ROOT=synthetic_root))
    return work_dir


def damaged_copy(path: str, out: str, how: str) -> str:
    """A copy of ``path`` cut in half, or with 64 bytes in its middle overwritten."""
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    if how == 'truncated':
        data = data[:len(data) // 2]
    else:
        middle = len(data) // 2
        data[middle:middle + 64] = bytes(64)
    with open(out, 'wb') as f:
        f.write(data)
    return out


@pytest.mark.parametrize('how, problem', [('truncated', 'no central directory'),
                                          ('overwritten', 'fails its CRC check')])
@pytest.mark.slow
def test_damaged_checkpoints_are_refused_naming_the_file(two_epochs, synthetic_root, tmp_path,
                                                         sample_video, how, problem):
    damaged = damaged_copy(osp.join(two_epochs, 'epoch_2.pth'), str(tmp_path / 'bad.pth'), how)
    env = dict(MSNET_SYNTHETIC_ROOT=synthetic_root)
    label_map = osp.join(synthetic_root, 'label_map.txt')
    commands = {
        'test': ['tools/test.py', MSNET_CONFIG, damaged],
        'demo': ['tools/demo.py', MSNET_CONFIG, damaged, sample_video, label_map],
        'convert': ['tools/convert_official_checkpoint.py', damaged, str(tmp_path / 'out.pth')],
    }
    for name, command in commands.items():
        line = _one_line_error(python(*command, env=env, check=False))
        assert line.startswith('error: ') and damaged in line and problem in line, (name, line)
    assert not osp.exists(tmp_path / 'out.pth')


@pytest.mark.slow
def test_test_tool_fails_at_once_on_a_missing_checkpoint(tmp_path):
    start = time.time()
    result = python('tools/test.py', MSNET_CONFIG, str(tmp_path / 'missing.pth'), check=False)
    line = _one_line_error(result)
    assert line == f'error: checkpoint {tmp_path}/missing.pth cannot be used: the file does not exist'
    assert 'Config:' not in result.stdout  # it stopped before building a runner
    assert time.time() - start < 60


@pytest.mark.slow
def test_resume_with_a_damaged_newest_checkpoint_names_the_intact_one(two_epochs, synthetic_root,
                                                                      tmp_path):
    work_dir = str(tmp_path / 'work')
    shutil.copytree(two_epochs, work_dir)
    damaged_copy(osp.join(two_epochs, 'epoch_2.pth'), osp.join(work_dir, 'epoch_2.pth'),
                 'truncated')
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work_dir, 'epoch_2.pth'))
    env = dict(MSNET_SYNTHETIC_ROOT=synthetic_root)
    args = _train_args(work_dir, 3)
    line = _one_line_error(run(_resumed(args), env=env, check=False))
    intact = osp.join(work_dir, 'epoch_1.pth')
    assert line == (f'error: cannot resume from {work_dir}/epoch_2.pth: its zip archive has no '
                    f'central directory (truncated?); the newest intact checkpoint is {intact}: '
                    f'resume from it with --resume {intact}')
    resumed = run(_resumed(args, intact), env=env)
    assert 'resumed epoch: 1' in resumed.stdout + resumed.stderr
    assert checkpoint_problem(osp.join(work_dir, 'epoch_3.pth')) is None


@pytest.mark.slow
def test_a_killed_data_loader_worker_ends_the_run_with_advice(synthetic_root, tmp_path):
    """SIGKILL to a worker, as the out-of-memory killer sends it, after the first checkpoint."""
    work_dir = str(tmp_path / 'worker')
    args = _train_args(work_dir, 40)
    args[args.index('train_dataloader.num_workers=0')] = 'train_dataloader.num_workers=2'
    args[args.index('train_dataloader.persistent_workers=False')] = \
        'train_dataloader.persistent_workers=True'
    env = dict(os.environ, PYTHONPATH=REPO, MSNET_SYNTHETIC_ROOT=synthetic_root,
               PYTHONWARNINGS='ignore')
    process = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.time() + 240
        while not osp.exists(osp.join(work_dir, 'epoch_1.pth')) and time.time() < deadline:
            time.sleep(0.5)
        workers = subprocess.run(['pgrep', '-P', str(process.pid)], capture_output=True,
                                 text=True).stdout.split()
        assert workers, 'no data loader worker to kill'
        os.kill(int(workers[0]), signal.SIGKILL)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 1
    line = stderr.strip().splitlines()[-1]
    assert line.startswith('error: a data loader worker process died')
    assert f'continue from the last checkpoint in {work_dir} with --resume' in line
    last = _last_checkpoint(work_dir)
    assert checkpoint_problem(osp.join(work_dir, last)) is None
    epoch = int(last.split('_')[1].split('.')[0])
    args[args.index('train_cfg.max_epochs=40')] = f'train_cfg.max_epochs={epoch + 1}'
    resumed = run(_resumed(args), env=dict(MSNET_SYNTHETIC_ROOT=synthetic_root))
    assert f'resumed epoch: {epoch}' in resumed.stdout + resumed.stderr


@pytest.mark.slow
def test_a_non_finite_loss_stops_before_the_update_or_is_skipped(two_epochs, synthetic_root,
                                                                 tmp_path):
    """Epoch 3 resumes with a NaN loss weight: every loss of it is NaN."""
    env = dict(MSNET_SYNTHETIC_ROOT=synthetic_root)
    nan_loss = ['model.cls_head.loss_cls.type=CrossEntropyLoss',
                'model.cls_head.loss_cls.loss_weight=nan']
    for skip in (False, True):
        work_dir = str(tmp_path / f'skip_{skip}')
        shutil.copytree(two_epochs, work_dir)
        before = _digest(osp.join(work_dir, 'epoch_2.pth'))
        args = _train_args(work_dir, 3, *nan_loss, f'skip_nonfinite_loss={skip}')
        result = run(_resumed(args), env=env, check=False)
        if not skip:
            line = _one_line_error(result)
            assert line.startswith('error: the loss is nan at iteration 5 (epoch 3); the weights '
                                   'were not updated')
            assert _digest(osp.join(work_dir, 'epoch_2.pth')) == before
            assert _last_checkpoint(work_dir) == 'epoch_2.pth'
            assert not osp.exists(osp.join(work_dir, 'epoch_3.pth'))
            continue
        assert result.returncode == 0, result.stderr[-2000:]
        log = result.stdout + result.stderr
        assert 'skipped the update of iteration 6 (epoch 3): the loss is nan (2 skipped' in log
        final = torch.load(osp.join(work_dir, 'epoch_3.pth'), weights_only=True)['state_dict']
        kept = torch.load(osp.join(two_epochs, 'epoch_2.pth'), weights_only=True)['state_dict']
        for key, value in kept.items():
            if key.endswith('weight') and value.dim() > 1:  # every convolution and the classifier
                assert torch.equal(final[key], value), key
