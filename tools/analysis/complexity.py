"""Multiply-adds and parameters of configs, with MSNet's overhead over its TSM twin.

    python tools/analysis/complexity.py CONFIG [CONFIG ...] [--frames 8 16] [--shape 224 224]

Counts follow MMAction2's ``get_flops`` (MMEngine's FlopAnalyzer, one clip), which counts the
correlation operator once ``msnet_mmaction`` is imported. For every MSNet config it also prints
the analytic count of its MotionSqueeze modules, and when a config's TSM twin is listed too, the
overhead over it.
"""
import argparse
import os.path as osp
from typing import Dict, Tuple

import torch

import msnet_mmaction  # noqa: F401
from msnet_mmaction.analysis import Complexity, measure_complexity, motion_squeeze_flops
from msnet_mmaction.apis import build_recognizer
from msnet_mmaction.models import MotionSqueeze


def count(config: str, frames: int, shape: Tuple[int, int]) -> Tuple[Complexity, int]:
    """Counts for ``config`` at ``frames`` frames, and the analytic count of its modules."""
    model = build_recognizer(config, frames)
    inputs = torch.randn(1, frames, 3, *shape)
    sizes = {}
    hooks = [m.register_forward_hook(lambda mod, args, out: sizes.__setitem__(mod, args[0].shape))
             for m in model.modules() if isinstance(m, MotionSqueeze)]
    with torch.no_grad():
        result = measure_complexity(model, inputs)
    for hook in hooks:
        hook.remove()
    analytic = 0
    for module, (_, channels, height, width) in sizes.items():
        maps = 2 * module.use_displacement + module.use_confidence
        analytic += sum(motion_squeeze_flops(
            channels, frames, height, width, module.reduction[0].out_channels,
            module.max_displacement, [b[3].out_channels for b in module.transform][:-1],
            [b[0].kernel_size[0] for b in module.transform], maps).values())
    return result, analytic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--frames', type=int, nargs='+', default=[8, 16])
    parser.add_argument('--shape', type=int, nargs=2, default=[224, 224], metavar=('H', 'W'))
    args = parser.parse_args()
    rows: Dict[Tuple[str, int], Tuple[Complexity, int]] = {}
    for config in args.configs:
        for frames in args.frames:
            rows[(osp.splitext(osp.basename(config))[0], frames)] = count(config, frames,
                                                                         tuple(args.shape))
    print(f'\nOne clip, {args.shape[0]}x{args.shape[1]}; G = 1e9 multiply-adds.\n')
    print('| config | frames | GFLOPs | params | MS module GFLOPs (analytic) | MS params | '
          'vs TSM twin: FLOPs | params |')
    print('|---|---|---|---|---|---|---|---|')
    for (name, frames), (c, analytic) in rows.items():
        module = f'{c.motion_flops / 1e9:.3f} ({analytic / 1e9:.3f})' if analytic else '-'
        twin = rows.get((name.replace('msnet_', 'tsm_', 1), frames)) if name.startswith(
            'msnet_') else None
        versus = '- | -'
        if twin is not None:
            base = twin[0]
            versus = (f'{100 * (c.flops - base.flops) / base.flops:+.2f} % | '
                      f'{c.params - base.params:+,d}')
        print(f'| {name} | {frames} | {c.flops / 1e9:.2f} | {c.params / 1e6:.2f} M | {module} | '
              f'{c.motion_params:,d} | {versus} |')


if __name__ == '__main__':
    main()
