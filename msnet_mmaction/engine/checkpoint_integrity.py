"""Telling an intact checkpoint from a damaged one before anything unpickles it.

PyTorch checkpoints are zip archives whose entries carry CRC-32 checksums. A truncated file has
no central directory and fails to open; a file overwritten in the middle still loads, with the
overwritten tensor values, unless the checksums are read. :func:`checkpoint_problem` reads them
all (about 1 GB/s). Files in PyTorch's legacy (non-zip) format, such as released checkpoints of
older code, are loaded once with ``weights_only=True`` instead.
"""
import glob
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import List, Optional

import torch

from ..errors import ActionableError


class DamagedCheckpointError(ActionableError):
    """A checkpoint file that is missing, truncated or overwritten."""


def checkpoint_problem(path: str) -> Optional[str]:
    """What is wrong with the checkpoint file at ``path``, or None if it is intact."""
    if not osp.isfile(path):
        return 'the file does not exist'
    if osp.getsize(path) == 0:
        return 'the file is empty'
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            return f'its zip archive cannot be read ({error})'
        return None if bad is None else f'entry {bad} fails its CRC check (overwritten?)'
    with open(path, 'rb') as f:
        if f.read(4) == b'PK\x03\x04':
            return 'its zip archive has no central directory (truncated?)'
    try:
        torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        if 'Weights only load failed' in str(error):
            return None  # readable; whether it may be loaded is for the loader to say
        return f'it cannot be unpickled ({error})'
    except (EOFError, RuntimeError, ValueError, OSError) as error:
        return f'it cannot be read ({type(error).__name__}: {error})'
    return None


def check_checkpoint(path: str, what: str = 'checkpoint') -> None:
    """Raise :class:`DamagedCheckpointError` naming ``path`` if the file is not intact."""
    problem = checkpoint_problem(path)
    if problem is not None:
        raise DamagedCheckpointError(f'{what} {path} cannot be used: {problem}')


def _step(path: str) -> int:
    match = re.search(r'(\d+)\.pth$', path)
    return int(match.group(1)) if match else -1


def checkpoints_newest_first(work_dir: str) -> List[str]:
    """The ``epoch_N.pth``/``iter_N.pth`` checkpoints of a work dir, newest step first."""
    found = glob.glob(osp.join(work_dir, 'epoch_*.pth')) + glob.glob(
        osp.join(work_dir, 'iter_*.pth'))
    return sorted(found, key=lambda p: (_step(p), osp.getmtime(p)), reverse=True)


def check_resume_checkpoint(path: str, work_dir: str) -> None:
    """Check the checkpoint a run resumes from; if it is damaged, the error names the newest
    intact checkpoint of the work dir to resume from instead."""
    problem = checkpoint_problem(path)
    if problem is None:
        return
    intact = next((p for p in checkpoints_newest_first(work_dir)
                   if osp.abspath(p) != osp.abspath(path) and checkpoint_problem(p) is None),
                  None)
    advice = (f'the newest intact checkpoint is {intact}: resume from it with --resume {intact}'
              if intact else f'no intact checkpoint is left in {work_dir}: start again without '
              '--resume')
    raise DamagedCheckpointError(f'cannot resume from {path}: {problem}; {advice}')


def remove_if_present(path: str) -> None:
    """Delete ``path`` if it exists (a partial file after a failed write)."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
