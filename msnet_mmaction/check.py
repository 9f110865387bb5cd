"""The self-check to run before a long job: which code computes each operator on this machine, and
whether it agrees with the float64 reference.

    python -m msnet_mmaction.check [--device cpu cuda:1 ...]

For every visible device (the CPU and each CUDA device, the ones that are not current included)
and each operator, it names the code path the operator's one dispatch function picks, and why,
then compares forward values and input gradients (backward outside autocast, as training runs it)
with the reference formulation computed in float64 on the CPU, on a few shapes: in float32, and under the autocast dtypes of ``--amp``
(float16 and bfloat16 on CUDA, bfloat16 on the CPU).
One MotionSqueeze forward and backward per device is compared the same way. It prints one table
and exits with status 1 if anything disagrees; on a CPU it takes seconds.
"""
import argparse
import os
import sys
import time
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .ops import (kernel_soft_argmax, kernel_soft_argmax_path, local_correlation,
                  local_correlation_path)
from .ops.cpu_library import cpu_library
from .ops.kernel_soft_argmax_reference import kernel_soft_argmax as soft_argmax_reference
from .ops.local_correlation_reference import local_correlation as correlation_reference
from .ops.policy import KERNELS_ENV, triton_installed

#: (N, C, H, W, max displacement, dilation) of the correlation cases; the last is MSNet-R50's
#: pair at 28x28 with 64 channels, cropped to 14x14.
CORRELATION_CASES = ((2, 16, 9, 11, 3, 1), (1, 8, 7, 6, 2, 2), (2, 64, 14, 14, 7, 1))
#: (N, C, H, W, max displacement) of the soft-argmax cases (volumes of normalised features).
SOFT_ARGMAX_CASES = ((2, 16, 9, 11, 3), (2, 64, 14, 14, 7))
#: Largest errors, relative to the reference's largest magnitude, that pass: the operators compute
#: in float32 under autocast too; the module adds convolutions and batch norms.
OPERATOR_TOLERANCE = 1e-4
MODULE_TOLERANCE = 1e-3


class Check(NamedTuple):
    """One row of the table: what was checked, the code path, and the relative errors."""
    device: str
    subject: str
    case: str
    precision: str
    path: str
    forward: float
    backward: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.forward <= self.tolerance and self.backward <= self.tolerance


def visible_devices() -> List[torch.device]:
    """The CPU and every CUDA device."""
    return [torch.device('cpu')] + [torch.device('cuda', i)
                                    for i in range(torch.cuda.device_count())]


def precisions(device: torch.device) -> List[Optional[torch.dtype]]:
    """float32 (None: no autocast) everywhere, and the autocast dtypes of ``--amp``: float16 and
    bfloat16 on CUDA, bfloat16 on the CPU."""
    return [None] + ([torch.float16, torch.bfloat16] if device.type == 'cuda' else
                     [torch.bfloat16])


def relative_error(got: Tensor, want: Tensor) -> float:
    """Largest absolute difference over the reference's largest magnitude."""
    got, want = got.detach().double().cpu(), want.detach().double().cpu()
    return float((got - want).abs().max() / want.abs().max().clamp(min=1e-12))


def _values_and_grads(fn: Callable[..., Tuple[Tensor, ...]], inputs: Sequence[Tensor],
                      dtype: Optional[torch.dtype] = None) -> Tuple[List[Tensor], List[Tensor]]:
    """Outputs of ``fn`` (under ``dtype`` autocast) and the inputs' gradients of
    ``sum(output * probe)`` for seeded random probes, with the backward pass outside autocast, as
    training runs it."""
    leaves = [x.detach().clone().requires_grad_() for x in inputs]
    with torch.autocast(leaves[0].device.type, dtype=dtype, enabled=dtype is not None):
        outputs = _as_tuple(fn(*leaves))
    generator = torch.Generator().manual_seed(1)
    loss = sum((out.double() * torch.randn(out.shape, generator=generator, dtype=torch.float64)
                .to(out.device)).sum() for out in outputs)
    return list(outputs), list(torch.autograd.grad(loss, leaves))


def _compare(fn, reference, inputs: Sequence[Tensor], device: torch.device,
             dtype: Optional[torch.dtype], reference_on_device: bool = False) -> Tuple[float, float]:
    """The errors of ``fn`` on ``device`` (under ``dtype`` autocast) against ``reference`` in
    float64 on the CPU, or, with ``reference_on_device``, on ``device`` under the same
    autocast."""
    if reference_on_device:
        want, want_grads = _values_and_grads(reference, [x.to(device) for x in inputs], dtype)
    else:
        want, want_grads = _values_and_grads(reference, [x.double() for x in inputs])
    got, got_grads = _values_and_grads(fn, [x.to(device) for x in inputs], dtype)
    forward = max(relative_error(g, w) for g, w in zip(got, want))
    backward = max(relative_error(g, w) for g, w in zip(got_grads, want_grads))
    return forward, backward


def _as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value, )


def _path_text(path) -> str:
    return f'{path.kernel} ({path.reason})'


def check_correlation(device: torch.device) -> List[Check]:
    rows = []
    generator = torch.Generator().manual_seed(0)
    for n, c, h, w, d, s in CORRELATION_CASES:
        a, b = (torch.randn(n, c, h, w, generator=generator) for _ in range(2))
        path = local_correlation_path(a.to(device), b.to(device), d, s)
        for dtype in precisions(device):
            errors = _compare(lambda x, y: local_correlation(x, y, d, s),
                              lambda x, y: correlation_reference(x, y, d, s), (a, b), device,
                              dtype)
            rows.append(Check(str(device), 'local_correlation', f'{n}x{c}x{h}x{w} d={d} s={s}',
                              _precision_name(dtype), _path_text(path), *errors,
                              OPERATOR_TOLERANCE))
    return rows


def check_soft_argmax(device: torch.device) -> List[Check]:
    rows = []
    generator = torch.Generator().manual_seed(0)
    for n, c, h, w, d in SOFT_ARGMAX_CASES:
        a, b = (F.normalize(torch.randn(n, c, h, w, generator=generator), dim=1)
                for _ in range(2))
        volume = correlation_reference(a, b, d, 1).contiguous()
        path = kernel_soft_argmax_path(volume.to(device))
        backward_path = kernel_soft_argmax_path(volume.to(device), backward=True)
        text = _path_text(path)
        if backward_path.kernel != path.kernel:
            text += f'; backward: {_path_text(backward_path)}'
        for dtype in precisions(device):
            errors = _compare(lambda v: kernel_soft_argmax(v, d),
                              lambda v: soft_argmax_reference(v, d, 5.0, 100.0), (volume, ),
                              device, dtype)
            rows.append(Check(str(device), 'kernel_soft_argmax', f'{n}x{(2 * d + 1)**2}x{h}x{w} '
                              f'd={d}', _precision_name(dtype), text, *errors,
                              OPERATOR_TOLERANCE))
    return rows


def check_motion_squeeze(device: torch.device) -> List[Check]:
    """One MotionSqueeze (training mode) with the operators against the same weights with the
    reference formulation: in float64 on the CPU, and under autocast against the reference
    module on the same device under the same autocast (the convolutions' own rounding then
    cancels, and what remains is the operators')."""
    from .models import MotionSqueeze
    torch.manual_seed(0)
    module = MotionSqueeze(in_channels=32, num_segments=4, reduced_channels=16, max_displacement=3)
    reference = MotionSqueeze(in_channels=32, num_segments=4, reduced_channels=16,
                              max_displacement=3, implementation='reference')
    reference.load_state_dict(module.state_dict())
    module.to(device)
    # Features of a translating texture, so that the soft-argmax's arg-max (which has no
    # gradient) is unambiguous.
    texture = torch.rand(32, 24, 24, generator=torch.Generator().manual_seed(2))
    x = torch.stack([texture[:, 4 - t:18 - t, 4 - t:18 - t] for t in range(4)] * 2)
    rows = []
    for dtype in precisions(device):
        if dtype is None:
            errors = _compare(module, reference.double(), (x, ), device, dtype)
        else:
            errors = _compare(module, reference.float().to(device), (x, ), device, dtype,
                              reference_on_device=True)
        rows.append(Check(str(device), 'MotionSqueeze', '8x32x14x14 d=3, train mode',
                          _precision_name(dtype), 'the operators (auto)', *errors,
                          MODULE_TOLERANCE))
    return rows


def _precision_name(dtype: Optional[torch.dtype]) -> str:
    return 'float32' if dtype is None else f'autocast {str(dtype).split(".")[1]}'


def run_checks(devices: Sequence[torch.device]) -> List[Check]:
    rows = []
    for device in devices:
        for check in (check_correlation, check_soft_argmax, check_motion_squeeze):
            rows += check(device)
    return rows


def environment() -> List[str]:
    """Lines on what decides the code paths here."""
    library = cpu_library()
    lines = [f'torch {torch.__version__}; Triton '
             f'{_triton_version() if triton_installed() else "not installed"}; '
             f'{KERNELS_ENV}={os.environ.get(KERNELS_ENV, "1 (default)")}',
             f'compiled CPU kernels: {library.path if library else "unavailable"}']
    for i in range(torch.cuda.device_count()):
        lines.append(f'cuda:{i}: {torch.cuda.get_device_name(i)}'
                     f'{" (current)" if i == torch.cuda.current_device() else ""}')
    return lines


def _triton_version() -> str:
    import triton
    return triton.__version__


def format_table(rows: Sequence[Check]) -> str:
    lines = ['| device | subject | case | precision | code path (why) | forward error | '
             'backward error | tolerance | ok |', '|---|---|---|---|---|---|---|---|---|']
    for row in rows:
        lines.append(f'| {row.device} | {row.subject} | {row.case} | {row.precision} | '
                     f'{row.path} | {row.forward:.1e} | {row.backward:.1e} | '
                     f'{row.tolerance:g} | {"yes" if row.ok else "NO"} |')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', nargs='+', help='devices to check (default: every visible one)')
    args = parser.parse_args(argv)
    devices = [torch.device(d) for d in args.device] if args.device else visible_devices()
    start = time.perf_counter()
    rows = run_checks(devices)
    print('\n'.join(environment()))
    print(format_table(rows))
    failed = [row for row in rows if not row.ok]
    print(f'{len(rows) - len(failed)} of {len(rows)} checks agree with the reference in '
          f'{time.perf_counter() - start:.1f} s')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
