"""tools/analysis/gpu_report.py: its dry mode end to end on the CPU, and the docs section it
writes on CUDA."""
import hashlib
import importlib.util
import os.path as osp
import sys

import pytest
from helpers import REPO, run


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'gpu_report', osp.join(REPO, 'tools', 'analysis', 'gpu_report.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def digest(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_the_report_replaces_only_its_section(tmp_path, monkeypatch):
    tool = load_tool()
    docs = tmp_path / 'benchmarks.md'
    docs.write_text(f'# Title\n\nbefore\n{tool.BEGIN}\nold report\n{tool.END}\n\nafter\n')
    monkeypatch.setattr(tool, 'DOCS', str(docs))
    tool.write_docs('new report\n| a | b |')
    assert docs.read_text() == (f'# Title\n\nbefore\n{tool.BEGIN}\nnew report\n| a | b |\n'
                                f'{tool.END}\n\nafter\n')
    with open(osp.join(REPO, 'docs', 'benchmarks.md')) as f:
        assert f.read().count(tool.BEGIN) == 1
    assert tool._markdown('a line\n| x |\n| y |\nlast') == '```\na line\n```\n\n| x |\n| y |\n\n```\nlast\n```'


@pytest.mark.slow
def test_the_dry_mode_runs_end_to_end_on_the_cpu(tmp_path):
    before = digest(osp.join(REPO, 'docs', 'benchmarks.md'))
    result = run([sys.executable, 'tools/analysis/gpu_report.py', '--device', 'cpu', '--parts',
                  'tests', 'check', '--out', str(tmp_path)])
    report = (tmp_path / 'report.md').read_text()
    assert '### tests (' in report and '### check (' in report and '- torch ' in report
    assert '| cpu | local_correlation |' in report
    assert 'tests: exit status 0' in result.stdout and 'check: exit status 0' in result.stdout
    assert digest(osp.join(REPO, 'docs', 'benchmarks.md')) == before
