"""Train a recognizer with MMEngine's runner (MMAction2's tools/train.py interface).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--auto-scale-lr]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

Failures with a known remedy (a damaged checkpoint to resume from, a full disk while saving, a
non-finite loss, a data loader worker that died) end the run with one line that says what to do.
"""
import argparse
import os

# PyTorch's OpenMP threads spin while they wait for work; where other jobs share the cores, the
# spinning takes their time, many times what sharing alone costs (docs/benchmarks.md measures
# both policies). Set OMP_WAIT_POLICY=ACTIVE to spin. It must be set before torch loads OpenMP.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import msnet_mmaction  # noqa: F401,E402  (registers the plugin and applies the compat fixes)
from msnet_mmaction.apis import (add_common_arguments, build_runner, enable_amp,  # noqa: E402
                                 enable_auto_scale_lr, explain_training_failure, load_config,
                                 run_tool, set_resume)
from msnet_mmaction.engine import keep_freed_memory  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train an MMAction2 recognizer')
    parser.add_argument('config', help='config file')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from CKPT, or from the latest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the total batch size')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training')
    parser.add_argument('--seed', type=int, help='random seed')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic algorithms (slower)')
    add_common_arguments(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    keep_freed_memory()
    cfg = load_config(args)
    if args.amp:
        enable_amp(cfg)
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.seed is not None or args.deterministic:
        randomness = cfg.get('randomness', {})
        if args.seed is not None:
            randomness['seed'] = args.seed
        randomness['deterministic'] = args.deterministic or randomness.get('deterministic', False)
        cfg.randomness = randomness
    set_resume(cfg, args.resume)
    runner = build_runner(cfg)
    try:
        runner.train()
    except Exception as error:
        explained = explain_training_failure(error, cfg)
        if explained is error:
            raise
        raise explained from error


if __name__ == '__main__':
    run_tool(main)
