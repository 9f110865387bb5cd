"""Export a recognizer with ``torch.export`` (and optionally ONNX) and check it against eager.

    python tools/deployment/export.py CONFIG [--checkpoint CKPT] --out model.pt2 [--onnx model.onnx]
        [--frames T] [--shape 224 224]

ONNX needs the ``deploy`` extra (onnx, onnxscript, onnxruntime): ``pip install -e ".[deploy]"``.

The exported program takes normalised clips (1, T, 3, H, W) and returns class scores (1, K). The
tool runs eager and exported models on a random clip and prints the largest difference.
"""
import argparse

import torch

import msnet_mmaction  # noqa: F401
from msnet_mmaction.apis import load_recognizer, run_tool
from msnet_mmaction.deployment import export_onnx, export_recognizer
from msnet_mmaction.models import ScoresModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', help='weights to export (default: initial weights)')
    parser.add_argument('--out', required=True, help='.pt2 file for torch.export')
    parser.add_argument('--onnx', help='also write an ONNX file (needs the onnx packages)')
    parser.add_argument('--frames', type=int, help='frames per clip (default: the config\'s)')
    parser.add_argument('--shape', type=int, nargs=2, default=[224, 224], metavar=('H', 'W'))
    args = parser.parse_args()
    try:
        model = load_recognizer(args.config, args.checkpoint)
    except (FileNotFoundError, RuntimeError) as error:
        raise SystemExit(f'error: {error}') from None
    frames = args.frames or model.backbone.num_segments
    inputs = torch.randn(1, frames, 3, *args.shape)
    export_recognizer(model, inputs, args.out)
    program = torch.export.load(args.out)
    check = torch.randn(1, frames, 3, *args.shape)
    with torch.no_grad():
        difference = (program.module()(check) - ScoresModel(model)(check)).abs().max().item()
    print(f'wrote {args.out}; max |exported - eager| = {difference:.3g}')
    if args.onnx:
        export_onnx(model, inputs, args.onnx)
        try:
            import onnxruntime
        except ImportError:
            print(f'wrote {args.onnx} (onnxruntime is not installed: not checked)')
            return
        session = onnxruntime.InferenceSession(args.onnx, providers=['CPUExecutionProvider'])
        scores = session.run(None, {session.get_inputs()[0].name: check.numpy()})[0]
        with torch.no_grad():
            difference = (torch.from_numpy(scores) - ScoresModel(model)(check)).abs().max().item()
        print(f'wrote {args.onnx}; max |onnxruntime - eager| = {difference:.3g}')


if __name__ == '__main__':
    run_tool(main)
