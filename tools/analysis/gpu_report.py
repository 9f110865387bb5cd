"""Measure everything a GPU session should, in one command, and write the CUDA section of
docs/benchmarks.md.

    bash tools/analysis/gpu_report.sh [--parts tests check models ops] [--device cuda|cpu]
        [--out work_dirs/gpu_report] [--no-docs]

Parts, in order (each selectable):

* ``tests``: the CUDA tests (tests/ops/test_cuda.py, the Triton kernels' tests, ``opcheck`` on CUDA
  tensors);
* ``check``: ``python -m msnet_mmaction.check`` on every device;
* ``models``: MSNet-R50 against TSM-R50 (8 frames, 224 px), fp32 and AMP, batch-1 and batch-8
  inference and the batch-8 training step, eager and under ``torch.compile``, then again with
  ``mode='reduce-overhead'`` (CUDA graphs);
* ``ops``: each operator against its reference, eager and compiled by Inductor.

Every part's output goes to ``--out`` (one markdown file per part and ``report.md``, which starts
with the device, driver, torch and Triton versions). On CUDA the report replaces the text between
the ``gpu-report`` markers of docs/benchmarks.md unless ``--no-docs``. Sized to finish within 8
minutes on an H100/H200.

``--device cpu`` is the dry mode: the same steps on the CPU at toy sizes (the synthetic R18 pair at
64 px, two operator pairs, ``aot_eager`` for the compiled columns, no CUDA graphs), which checks
that the script runs end to end; it never writes the docs.
"""
import argparse
import datetime
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from typing import Dict, List

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PARTS = ('tests', 'check', 'models', 'ops')
DOCS = osp.join(REPO, 'docs', 'benchmarks.md')
BEGIN, END = '<!-- gpu-report:begin -->', '<!-- gpu-report:end -->'
BENCHMARK = osp.join(REPO, 'tools', 'analysis', 'benchmark.py')


def commands(device: str) -> Dict[str, List[List[str]]]:
    """The commands of each part on ``device`` (``cuda``: the real sizes; ``cpu``: toy sizes)."""
    python = sys.executable
    tests = [python, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests/ops/test_cuda.py',
             'tests/ops/test_triton_kernels.py']
    if device == 'cuda':
        configs = ['configs/msnet_r50_8f_sthv1.py', 'configs/tsm_r50_8f_sthv1.py']
        models = ['--device', 'cuda', '--batches', '1', '8', '--train-batch', '8',
                  '--repeats', '15', '--warmup', '2']
        modes = [['--compile'], ['--compile', '--compile-mode', 'reduce-overhead']]
        ops = ['--ops', '--device', 'cuda', '--repeats', '15']
    else:
        configs = ['configs/msnet_r18_8f_synthetic-motion.py', 'configs/tsm_r18_8f_synthetic-motion.py']
        models = ['--device', 'cpu', '--shape', '64', '64', '--batches', '1', '2', '--train-batch',
                  '2', '--repeats', '2', '--warmup', '0']
        modes = [['--compile', '--compile-backend', 'aot_eager']]
        ops = ['--ops', '--device', 'cpu', '--pairs', '2', '--repeats', '2', '--warmup', '0',
               '--unfold-max-pairs', '0']
        tests += ['-m', 'not slow']
    return {
        'tests': [tests],
        'check': [[python, '-m', 'msnet_mmaction.check']],
        'models': [[python, BENCHMARK, *configs, *models, *mode] for mode in modes],
        'ops': [[python, BENCHMARK, *ops]],
    }


def environment(device: str) -> List[str]:
    """Device, driver, torch, Triton and CPU, one line each."""
    lines = [f'- date: {datetime.date.today().isoformat()}',
             f'- torch {torch.__version__}, Triton {_version("triton")}, Python '
             f'{platform.python_version()}',
             f'- CPU: {_cpu_model()}, {os.cpu_count()} cores']
    if device == 'cuda':
        for i in range(torch.cuda.device_count()):
            lines.append(f'- cuda:{i}: {torch.cuda.get_device_name(i)}')
        lines.append(f'- driver: {_nvidia_driver()}')
    return lines


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return 'not installed'


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvidia_driver() -> str:
    try:
        return subprocess.run(['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'],
                              capture_output=True, text=True, timeout=30).stdout.split()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return 'unknown'


def run_part(name: str, part_commands: List[List[str]], out_dir: str) -> dict:
    """Run one part's commands; keep their output in ``out_dir/<name>.md``."""
    start = time.time()
    sections, status = [], 0
    for command in part_commands:
        shown = ' '.join(osp.relpath(c, REPO) if c.startswith(REPO) else c for c in command)
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        status = status or result.returncode
        output = result.stdout + (f'\n{result.stderr[-3000:]}' if result.returncode else '')
        sections.append(f'```bash\n{shown}\n```\n\n{_markdown(output)}')
    text = f'### {name} ({time.time() - start:.0f} s, exit status {status})\n\n' + '\n\n'.join(sections)
    with open(osp.join(out_dir, f'{name}.md'), 'w') as f:
        f.write(text + '\n')
    print(f'{name}: exit status {status} in {time.time() - start:.0f} s', flush=True)
    return dict(name=name, status=status, text=text)


def _markdown(output: str) -> str:
    """Runs of table lines as they are, every other run of lines in a code block (the last 40
    lines of each)."""
    runs: List[List[str]] = []
    for line in output.strip().splitlines():
        if not line.strip():
            continue
        table = line.startswith('|')
        if runs and runs[-1][0].startswith('|') == table:
            runs[-1].append(line)
        else:
            runs.append([line])
    return '\n\n'.join('\n'.join(run) if run[0].startswith('|') else
                       '```\n' + '\n'.join(run[-40:]) + '\n```' for run in runs)


def write_docs(report: str) -> None:
    """Replace the text between the markers of docs/benchmarks.md with ``report``."""
    with open(DOCS) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        raise SystemExit(f'{DOCS} has no {BEGIN} ... {END} section')
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(DOCS, 'w') as f:
        f.write(f'{head}{BEGIN}\n{report}\n{END}{tail}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--parts', nargs='+', choices=PARTS, default=list(PARTS))
    parser.add_argument('--device', choices=['cuda', 'cpu'],
                        default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out', default=osp.join(REPO, 'work_dirs', 'gpu_report'))
    parser.add_argument('--no-docs', action='store_true', help='leave docs/benchmarks.md alone')
    args = parser.parse_args()
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('no CUDA device here; --device cpu runs the dry mode')
    os.makedirs(args.out, exist_ok=True)
    every = commands(args.device)
    results = [run_part(name, every[name], args.out) for name in args.parts]
    header = ('Measured by `bash tools/analysis/gpu_report.sh` '
              f'({", ".join(args.parts)}) on {args.device}:\n\n' + '\n'.join(environment(args.device)))
    report = header + '\n\n' + '\n\n'.join(r['text'] for r in results)
    with open(osp.join(args.out, 'report.md'), 'w') as f:
        f.write(report + '\n')
    if args.device == 'cuda' and not args.no_docs:
        write_docs(report)
        print(f'wrote the CUDA section of {osp.relpath(DOCS, REPO)}')
    print(f'report: {osp.join(args.out, "report.md")}')
    sys.exit(max(r['status'] for r in results))


if __name__ == '__main__':
    main()
