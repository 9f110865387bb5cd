"""Training with MMEngine's runner: the command line of ``tools/train.py``, which is also
``python -m msnet_mmaction.apis.train`` (how equal-budget comparisons start their runs, from a wheel
too).

    python -m msnet_mmaction.apis.train CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--seed N] [--cfg-options KEY=VALUE ...] [--launcher ...]

Failures with a known remedy (a damaged checkpoint to resume from, a full disk while saving, a
non-finite loss, a data loader worker that died) end the run with one line that says what to do.
Set ``OMP_WAIT_POLICY=PASSIVE`` in the environment for a run that shares its cores
(``tools/train.py`` does).
"""
import argparse
from typing import List, Optional

from ..engine import keep_freed_memory
from .cli import explain_training_failure, run_tool
from .runner import (add_common_arguments, build_runner, enable_amp, enable_auto_scale_lr,
                     load_config, set_resume)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
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
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    """Train as ``tools/train.py`` does, with ``argv`` for its command line."""
    args = parse_args(argv)
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
