"""What every tool shares: a docstring, and OpenMP threads that wait passively."""
import glob
import os
import os.path as osp

import pytest
from helpers import REPO, python


def test_every_tool_has_a_docstring():
    for tool in glob.glob(osp.join(REPO, 'tools', '**', '*.py'), recursive=True):
        with open(tool) as f:
            assert f.read().lstrip().startswith('"""'), tool


@pytest.mark.slow
@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_tools_wait_passively_unless_told_otherwise(tool):
    """Spinning OpenMP threads take the cores of other jobs (docs/benchmarks.md): the tools set
    ``OMP_WAIT_POLICY=PASSIVE`` before torch loads, and leave a value the user chose."""
    script = ('import os, runpy, sys\n'
              f'sys.argv = [{tool!r}, "--help"]\n'
              'try:\n'
              f'    runpy.run_path({tool!r}, run_name="__main__")\n'
              'except SystemExit:\n'
              '    pass\n'
              'print(os.environ["OMP_WAIT_POLICY"])\n')
    assert 'OMP_WAIT_POLICY' not in os.environ
    assert python('-c', script).stdout.splitlines()[-1] == 'PASSIVE'
    assert python('-c', script, env=dict(OMP_WAIT_POLICY='ACTIVE')).stdout.splitlines()[-1] == \
        'ACTIVE'
