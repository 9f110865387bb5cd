"""Run a tool in this process with the disk filling up during its Nth checkpoint write.

    python tests/full_disk.py N tools/train.py CONFIG [ARGS ...]

The Nth write of a ``.pth`` file through MMEngine's local file backend (where every checkpoint is
written) stores the first half of its bytes and then fails as ``write(2)`` fails on a full disk,
with ``OSError(ENOSPC)``. Used by tests/engine/test_run_faults.py.
"""
import errno
import os
import runpy
import sys

from mmengine.fileio.backends.local_backend import LocalBackend

fail_at = int(sys.argv[1])
writes = 0
put = LocalBackend.put


def put_until_the_disk_is_full(self, obj: bytes, filepath) -> None:
    global writes
    if '.pth' not in str(filepath) or (writes := writes + 1) != fail_at:
        return put(self, obj, filepath)
    with open(filepath, 'wb') as f:
        f.write(obj[:len(obj) // 2])
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filepath))


LocalBackend.put = put_until_the_disk_is_full
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name='__main__')
