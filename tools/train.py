"""Train a recognizer with MMEngine's runner (MMAction2's tools/train.py interface).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--auto-scale-lr]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

A command line over :func:`msnet_mmaction.apis.train.main`. Failures with a known remedy (a
damaged checkpoint to resume from, a full disk while saving, a non-finite loss, a data loader
worker that died) end the run with one line that says what to do.
"""
import os

# PyTorch's OpenMP threads spin while they wait for work; where other jobs share the cores, the
# spinning takes their time, many times what sharing alone costs (docs/benchmarks.md measures
# both policies). Set OMP_WAIT_POLICY=ACTIVE to spin. It must be set before torch loads OpenMP.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import msnet_mmaction  # noqa: F401,E402  (registers the plugin and applies the compat fixes)
from msnet_mmaction.apis import run_tool  # noqa: E402
from msnet_mmaction.apis.train import main  # noqa: E402

if __name__ == '__main__':
    run_tool(main)
