"""Evaluate a checkpoint with MMEngine's runner (MMAction2's tools/test.py interface).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump RESULTS.pkl] [--show-dir DIR]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

The checkpoint is checked first: a missing, truncated or overwritten file stops the tool at once
with one line naming it. Checkpoints are loaded with ``torch.load(weights_only=True)``; one holding
arbitrary Python objects is refused with an explanation.
"""
import argparse
import os
import os.path as osp
import pickle

# PyTorch's OpenMP threads spin while they wait for work; where other jobs share the cores, the
# spinning takes their time, many times what sharing alone costs (docs/benchmarks.md measures
# both policies). Set OMP_WAIT_POLICY=ACTIVE to spin. It must be set before torch loads OpenMP.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import msnet_mmaction  # noqa: F401,E402  (registers the plugin and applies the compat fixes)
from msnet_mmaction.apis import (add_common_arguments, build_runner, compile_test_step,  # noqa: E402
                                 load_config, run_tool)
from msnet_mmaction.compat import explain_unsafe_checkpoint  # noqa: E402
from msnet_mmaction.engine import check_checkpoint, keep_freed_memory  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test an MMAction2 recognizer')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--dump', help='write the predictions to this .pkl file')
    parser.add_argument('--show-dir', help='write visualised predictions under the work dir here')
    parser.add_argument('--show', action='store_true', help='display visualised predictions')
    parser.add_argument('--interval', type=int, default=1, help='visualise every N-th sample')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds each shown sample stays')
    add_common_arguments(parser)
    return parser.parse_args()


def add_visualisation(cfg, args: argparse.Namespace) -> None:
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise KeyError('--show/--show-dir need `default_hooks.visualization` in the config')
    hook.enable = True
    hook.show = args.show
    hook.interval = args.interval
    hook.wait_time = args.wait_time
    if args.show_dir:
        cfg.visualizer.vis_backends[0].save_dir = osp.join(cfg.work_dir, args.show_dir)


def main() -> None:
    args = parse_args()
    check_checkpoint(args.checkpoint)
    keep_freed_memory()
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        add_visualisation(cfg, args)
    if args.dump:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError('--dump must name a .pkl or .pickle file')
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = evaluators + [dict(type='DumpResults', out_file_path=args.dump)]
    runner = build_runner(cfg)
    compile_test_step(runner)
    try:
        runner.test()
    except pickle.UnpicklingError as error:
        raise explain_unsafe_checkpoint(args.checkpoint, error) from error


if __name__ == '__main__':
    run_tool(main)
