"""Checkpoint saving that neither a kill nor a full disk can leave without a checkpoint to resume
from."""
import errno
import os
import os.path as osp
from contextlib import contextmanager
from typing import Iterator, List

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ..errors import ActionableError
from .checkpoint_integrity import remove_if_present


class CheckpointSaveError(ActionableError):
    """A checkpoint or ``last_checkpoint`` could not be written (a full disk, say)."""


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
    with _failed_writes_removed(partial, path, f'{osp.basename(path)} still names the previous '
                                'checkpoint'):
        with open(partial, 'w') as f:
            f.write(text)
        _sync_and_replace(partial, path)


def _save_error(error: OSError, partial: str, path: str, kept: str) -> CheckpointSaveError:
    """Delete what a failed write of ``partial`` (for ``path``) left, and say what was kept."""
    remove_if_present(partial)
    reason = errno.errorcode.get(error.errno, 'error')
    return CheckpointSaveError(
        f'could not write {path} ({reason}: {error.strerror or error}); {kept}, and no partial '
        f'file is left. Free space on {osp.dirname(path) or "."} and continue with --resume.')


@contextmanager
def _failed_writes_removed(partial: str, path: str, kept: str) -> Iterator[None]:
    """Turn a failed write of ``partial`` into a :class:`CheckpointSaveError`."""
    try:
        yield
    except OSError as error:
        raise _save_error(error, partial, path, kept) from error


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` with a crash-safe order of operations on local disks.

    The stock hook deletes the oldest kept checkpoint *before* writing the new one, and points
    ``last_checkpoint`` at the new file only afterwards. With ``max_keep_ckpts=1`` a job killed
    while saving therefore leaves ``last_checkpoint`` naming a deleted file, and ``--resume``
    fails. This hook writes the checkpoint under a hidden ``.NAME.partial`` name, syncs it and
    renames it into place, then replaces ``last_checkpoint`` atomically, and only then deletes
    checkpoints beyond ``max_keep_ckpts``. A write that fails (a full disk) deletes what it wrote
    and stops the run with a :class:`CheckpointSaveError` that says what is intact. Every argument
    and every other behaviour (best checkpoints, intervals, resumed bookkeeping, remote backends)
    is ``CheckpointHook``'s.
    """

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        if not isinstance(self.file_backend, LocalBackend):
            super()._save_checkpoint_with_step(runner, step, meta)
            return
        expired = self._keep(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        partial = osp.join(self.out_dir, _partial(filename))
        kept = 'nothing was replaced: the previous checkpoint and last_checkpoint are intact'
        with _failed_writes_removed(partial, self.last_ckpt, kept):
            runner.save_checkpoint(self.out_dir, _partial(filename), self.file_client_args,
                                   save_optimizer=self.save_optimizer,
                                   save_param_scheduler=self.save_param_scheduler, meta=meta,
                                   by_epoch=self.by_epoch, backend_args=self.backend_args,
                                   **self.args)
            if not is_main_process():
                return
            _sync_and_replace(partial, self.last_ckpt)
        _write_atomically(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old in expired:
            path = osp.join(self.out_dir, self.filename_tmpl.format(old))
            if osp.isfile(path):
                os.remove(path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """The stock hook's, with a failed write turned into a :class:`CheckpointSaveError` and
        its partial file deleted."""
        if not isinstance(self.file_backend, LocalBackend):
            super()._save_best_checkpoint(runner, metrics)
            return
        try:
            super()._save_best_checkpoint(runner, metrics)
        except OSError as error:
            # The stock hook deletes the previous best checkpoint first, then names and writes
            # the new one.
            best = getattr(self, 'best_ckpt_path', None) or ''
            raise _save_error(error, best, best, 'the previous best checkpoint is gone, the '
                              'regular checkpoints and last_checkpoint are intact') from error

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
