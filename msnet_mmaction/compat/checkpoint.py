"""Loading MMEngine checkpoints with ``torch.load(weights_only=True)``, the default since torch 2.6.

A checkpoint is untrusted input, so ``weights_only`` stays on. MMEngine stores its message hub
(``HistoryBuffer`` objects holding numpy arrays, and numpy scalars); exactly the globals those need are
allow-listed. ``HistoryBuffer`` pickles its statistics methods as ``getattr(HistoryBuffer, name)``, so
``getattr`` is admitted only in that form.
"""
import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_method(owner: type, name: str):
    """A restricted ``getattr``: it only resolves HistoryBuffer's statistics methods."""
    if owner is HistoryBuffer and name in _STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'Refusing getattr({owner!r}, {name!r}) while loading a checkpoint with weights_only=True.')


def _numpy_globals() -> list:
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    entries = [np.ndarray, np.dtype]
    # Checkpoints written under numpy 1.x name ``numpy.core``; numpy 2.x writes ``numpy._core``.
    for prefix in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        entries.append((multiarray._reconstruct, f'{prefix}._reconstruct'))
        entries.append((multiarray.scalar, f'{prefix}.scalar'))
    # numpy >= 1.25 rebuilds dtypes as instances of per-type classes; logs hold these numbers.
    entries += [type(np.dtype(t)) for t in (np.float32, np.float64, np.int32, np.int64)]
    return entries


def allow_mmengine_checkpoint_globals() -> None:
    """Allow-list the globals that MMEngine checkpoints contain, and nothing else."""
    torch.serialization.add_safe_globals(
        [HistoryBuffer, (_history_buffer_method, 'builtins.getattr')] + _numpy_globals())


def explain_unsafe_checkpoint(path: str, error: Exception) -> RuntimeError:
    """A refusal message for a checkpoint that ``weights_only`` loading rejected."""
    return RuntimeError(
        f'Refused to load checkpoint {path!r}: it contains Python objects that weights-only loading '
        f'does not allow ({error}). A checkpoint can execute code when unpickled, so msnet_mmaction never '
        'turns weights_only off. If you trust this file, re-save its tensors in a trusted session, e.g. '
        "`torch.save({'state_dict': torch.load(path, weights_only=False)['state_dict']}, 'clean.pth')`, "
        'or allow-list the named class with torch.serialization.add_safe_globals.')
