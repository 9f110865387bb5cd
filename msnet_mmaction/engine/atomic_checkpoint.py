"""Checkpoint saving that a kill at any moment cannot leave without a checkpoint to resume from."""
import os
import os.path as osp
from typing import List

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS


def _partial(name: str) -> str:
    """The hidden name a file is written under before it is renamed to ``name``."""
    return f'.{name}.partial'


def _sync_and_replace(partial: str, path: str) -> None:
    """Flush ``partial`` to disk, then rename it to ``path`` (atomic on one POSIX filesystem)."""
    descriptor = os.open(partial, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(partial, path)


def _write_atomically(path: str, text: str) -> None:
    """Replace ``path`` by a file holding ``text``; readers see the old or the new file, whole."""
    partial = osp.join(osp.dirname(path), _partial(osp.basename(path)))
    with open(partial, 'w') as f:
        f.write(text)
    _sync_and_replace(partial, path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` with a crash-safe order of operations on local disks.

    The stock hook deletes the oldest kept checkpoint *before* writing the new one, and points
    ``last_checkpoint`` at the new file only afterwards. With ``max_keep_ckpts=1`` a job killed
    while saving therefore leaves ``last_checkpoint`` naming a deleted file, and ``--resume``
    fails. This hook writes the checkpoint under a hidden ``.NAME.partial`` name, syncs it and
    renames it into place, then replaces ``last_checkpoint`` atomically, and only then deletes
    checkpoints beyond ``max_keep_ckpts``. Every argument and every other behaviour (best
    checkpoints, intervals, resumed bookkeeping, remote backends) is ``CheckpointHook``'s.
    """

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        if not isinstance(self.file_backend, LocalBackend):
            super()._save_checkpoint_with_step(runner, step, meta)
            return
        expired = self._keep(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(self.out_dir, _partial(filename), self.file_client_args,
                               save_optimizer=self.save_optimizer,
                               save_param_scheduler=self.save_param_scheduler, meta=meta,
                               by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        _sync_and_replace(osp.join(self.out_dir, _partial(filename)), self.last_ckpt)
        _write_atomically(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old in expired:
            path = osp.join(self.out_dir, self.filename_tmpl.format(old))
            if osp.isfile(path):
                os.remove(path)

    def _keep(self, runner, step: int) -> List[int]:
        """Record ``step`` among the kept checkpoints; return the steps that fall out of the window.

        The message hub is updated before saving, so the checkpoint itself lists what it keeps.
        """
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            return []
        expired = []
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            expired.append(self.keep_ckpt_ids.popleft())
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        return expired
