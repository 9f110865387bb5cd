"""AtomicCheckpointHook: a job killed while saving a checkpoint can always be resumed."""
import glob
import os.path as osp
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner, find_latest_checkpoint
from torch import nn


class Killed(RuntimeError):
    """Stands in for SIGKILL arriving in the middle of writing a checkpoint."""


class LinearModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        out = self.linear(torch.stack(inputs))
        return dict(loss=out.square().mean()) if mode == 'loss' else out


def build_runner(work_dir: str, hook: str, max_epochs: int, max_keep_ckpts: int,
                 resume: bool = False) -> Runner:
    torch.manual_seed(0)
    data = [dict(inputs=torch.linspace(-1, 1, 3) * i) for i in range(1, 5)]
    return Runner(
        model=LinearModel(), work_dir=work_dir, experiment_name=uuid.uuid4().hex,
        train_dataloader=dict(dataset=data, batch_size=2, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05)),
        default_hooks=dict(checkpoint=dict(type=hook, interval=1, max_keep_ckpts=max_keep_ckpts)),
        resume=resume)


def die_while_saving(runner: Runner, epoch: int) -> None:
    """Make the save of ``epoch`` leave a torn file and stop the job, as a kill would."""
    save = runner.save_checkpoint

    def save_or_die(out_dir, filename, *args, **kwargs):
        if runner.epoch + 1 == epoch:
            with open(osp.join(out_dir, filename), 'wb') as f:
                f.write(b'PK\x03\x04torn')
            raise Killed(filename)
        return save(out_dir, filename, *args, **kwargs)

    runner.save_checkpoint = save_or_die


def checkpoints(work_dir: str) -> list:
    return sorted(osp.basename(p) for p in glob.glob(osp.join(work_dir, '*.pth')))


def test_premise_stock_hook_loses_the_checkpoint_to_resume_from(tmp_path):
    work_dir = str(tmp_path)
    runner = build_runner(work_dir, 'CheckpointHook', max_epochs=3, max_keep_ckpts=1)
    die_while_saving(runner, epoch=3)
    with pytest.raises(Killed):
        runner.train()
    latest = find_latest_checkpoint(work_dir)
    assert osp.basename(latest) == 'epoch_2.pth' and not osp.exists(latest)


def test_kill_while_saving_leaves_a_resumable_checkpoint(tmp_path):
    reference = build_runner(str(tmp_path / 'reference'), 'CheckpointHook', 3, max_keep_ckpts=1)
    reference.train()

    work_dir = str(tmp_path / 'killed')
    runner = build_runner(work_dir, 'AtomicCheckpointHook', max_epochs=3, max_keep_ckpts=1)
    die_while_saving(runner, epoch=3)
    with pytest.raises(Killed):
        runner.train()
    latest = find_latest_checkpoint(work_dir)
    assert osp.basename(latest) == 'epoch_2.pth'
    assert torch.load(latest, weights_only=True)['meta']['epoch'] == 2
    assert checkpoints(work_dir) == ['epoch_2.pth']

    resumed = build_runner(work_dir, 'AtomicCheckpointHook', 3, max_keep_ckpts=1, resume=True)
    resumed.train()
    assert resumed.epoch == 3
    assert checkpoints(work_dir) == ['epoch_3.pth']
    assert not glob.glob(osp.join(work_dir, '.*.partial'))
    assert osp.basename(find_latest_checkpoint(work_dir)) == 'epoch_3.pth'
    for ours, theirs in zip(resumed.model.parameters(), reference.model.parameters()):
        assert torch.equal(ours, theirs)


@pytest.mark.parametrize('max_keep_ckpts', [-1, 1, 2])
def test_same_files_and_bookkeeping_as_the_stock_hook(tmp_path, max_keep_ckpts):
    results = {}
    for hook in ('CheckpointHook', 'AtomicCheckpointHook'):
        work_dir = str(tmp_path / hook)
        build_runner(work_dir, hook, max_epochs=4, max_keep_ckpts=max_keep_ckpts).train()
        latest = find_latest_checkpoint(work_dir)
        hub = torch.load(latest, weights_only=True)['message_hub']['runtime_info']
        results[hook] = (checkpoints(work_dir), osp.basename(latest), hub.get('keep_ckpt_ids'),
                         osp.basename(hub['last_ckpt']))
    assert results['AtomicCheckpointHook'] == results['CheckpointHook']
    assert len(results['CheckpointHook'][0]) == (4 if max_keep_ckpts < 0 else max_keep_ckpts)


@pytest.mark.slow
def test_training_tool_saves_with_the_atomic_hook(trained_run):
    dumped = glob.glob(osp.join(trained_run, '*.py'))
    assert len(dumped) == 1
    assert Config.fromfile(dumped[0]).default_hooks.checkpoint.type == 'AtomicCheckpointHook'
