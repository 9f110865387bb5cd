"""``python -m msnet_mmaction.check``: the self-check users run before a long job."""
import importlib
import sys

import torch
from helpers import run

from msnet_mmaction import check
from msnet_mmaction.ops import KERNELS_ENV

# The package exports the function under the module's name, as torchvision.ops does.
correlation_module = importlib.import_module('msnet_mmaction.ops.local_correlation')


def table_rows(out: str) -> list:
    return [[cell.strip() for cell in line.strip('|').split('|')] for line in out.splitlines()
            if line.startswith('| cpu')]


def test_the_self_check_passes_on_this_cpu_and_names_every_path():
    result = run([sys.executable, '-m', 'msnet_mmaction.check'])
    rows = table_rows(result.stdout)
    subjects = {row[1] for row in rows}
    assert subjects == {'local_correlation', 'kernel_soft_argmax', 'MotionSqueeze'}
    assert {row[3] for row in rows} == {'float32', 'autocast bfloat16'}
    assert all(row[-1] == 'yes' for row in rows)
    paths = {row[2]: row[4] for row in rows if row[3] == 'float32'}
    assert paths['2x16x9x11 d=3 s=1'].startswith('cpu-kernel (')
    assert paths['1x8x7x6 d=2 s=2'] == 'reference (the compiled CPU kernel takes dilation 1, not 2)'
    assert 'backward: reference (no compiled CPU backward' in paths['2x49x9x11 d=3']
    assert f'{len(rows)} of {len(rows)} checks agree' in result.stdout
    assert 'compiled CPU kernels: /' in result.stdout


def test_the_self_check_reports_the_switch(monkeypatch):
    monkeypatch.setenv(KERNELS_ENV, '0')
    rows = check.run_checks([torch.device('cpu')])
    operator_rows = [row for row in rows if row.subject != 'MotionSqueeze']
    assert {row.path for row in operator_rows} == {f'reference ({KERNELS_ENV}=0)'}
    assert all(row.ok for row in rows)


def test_a_wrong_kernel_fails_the_self_check(monkeypatch, capsys):
    """A CPU kernel off by 0.1 % in its forward values: the table says NO and the exit status
    is 1."""
    cpu_forward = correlation_module._cpu_forward
    monkeypatch.setattr(correlation_module, '_cpu_forward',
                        lambda *args: cpu_forward(*args) * 1.001)
    assert check.main(['--device', 'cpu']) == 1
    out = capsys.readouterr().out
    failed = [row for row in table_rows(out) if row[-1] == 'NO']
    assert failed and {row[1] for row in failed} >= {'local_correlation'}
    assert all(float(row[5]) > 5e-4 for row in failed if row[1] == 'local_correlation')
