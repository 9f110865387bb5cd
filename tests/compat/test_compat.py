"""The compatibility fixes for the PyPI releases of mmaction2 1.2.0 / mmengine 0.10 on torch >= 2.6."""
import glob
import os
import os.path as osp
import pickle
import types

import pytest
import torch
from helpers import MSNET_CONFIG, REPO, python

from msnet_mmaction.compat import drn, multimodal


@pytest.mark.slow
def test_mmaction_models_imports_and_drn_explains():
    script = ('import msnet_mmaction, mmaction.models\n'
              'from mmaction.registry import MODELS\n'
              'try:\n'
              '    MODELS.build(dict(type="DRN"))\n'
              'except RuntimeError as e:\n'
              '    print("refused:", e)\n')
    out = python('-c', script).stdout
    assert 'refused: DRN is unavailable' in out and 'PyPI' in out


@pytest.mark.slow
@pytest.mark.skipif(drn.installed_mmaction_ships_drn(), reason='this mmaction2 install ships DRN')
def test_plain_mmaction_models_import_fails_without_plugin():
    """Guards the premise: the wheel really lacks DRN, so the placeholder is doing the work."""
    result = python('-c', 'import mmaction.models', check=False)
    assert result.returncode != 0 and 'localizers.drn' in result.stderr


def test_drn_placeholder_leaves_source_installs_alone(tmp_path, monkeypatch):
    (tmp_path / 'models' / 'localizers' / 'drn').mkdir(parents=True)
    spec = types.SimpleNamespace(submodule_search_locations=[str(tmp_path)])
    monkeypatch.setattr(drn.importlib.util, 'find_spec', lambda name: spec)
    monkeypatch.delitem(drn.sys.modules, drn.DRN_MODULE, raising=False)
    assert not drn.drn_is_missing()
    assert not drn.install_drn_placeholder()


def fake_transformers(root, version: str) -> str:
    """A folder holding a stand-in transformers distribution of ``version``, none of whose modules
    VindLU imports exist."""
    (root / 'transformers').mkdir()
    (root / 'transformers' / '__init__.py').write_text(f'__version__ = {version!r}\n')
    (root / f'transformers-{version}.dist-info').mkdir()
    (root / f'transformers-{version}.dist-info' / 'METADATA').write_text(
        f'Metadata-Version: 2.1\nName: transformers\nVersion: {version}\n')
    return str(root)


@pytest.mark.slow
def test_mmaction_models_imports_beside_transformers_5(tmp_path):
    """mmaction2 1.2.0 imports VindLU for any transformers >= 4.28; VindLU fails to import under
    transformers 5 (seen with 5.17 on a CUDA image), so the plugin turns the switch off."""
    script = (f'import sys; sys.path.insert(0, {fake_transformers(tmp_path, "5.17.0")!r})\n'
              'from mmaction.utils import dependency\n'
              'print("mmaction would import VindLU:", dependency.WITH_MULTIMODAL)\n'
              'import msnet_mmaction, mmaction.models\n'
              'from mmaction.registry import MODELS\n'
              'try:\n'
              '    MODELS.build(dict(type="VindLUVQA"))\n'
              'except ImportError as e:\n'
              '    print("refused:", e)\n')
    out = python('-c', script).stdout
    assert 'mmaction would import VindLU: True' in out
    # (MMAction2's placeholders all name the last VindLU model: a late-binding closure of theirs.)
    assert 'refused: VindLU' in out and 'requires extra multi-modal dependencies' in out


@pytest.mark.parametrize('version, breaks', [(None, False), ('4.46.3', False), ('5.0.0rc1', True),
                                             ('5.17.0', True)])
def test_multimodal_switch_is_left_alone_below_transformers_5(monkeypatch, version, breaks):
    def installed(name):
        if version is None:
            raise multimodal.importlib.metadata.PackageNotFoundError(name)
        return version

    monkeypatch.setattr(multimodal.importlib.metadata, 'version', installed)
    assert multimodal.transformers_breaks_vindlu() is breaks


@pytest.mark.slow
def test_importlib_metadata_stands_in_when_missing():
    script = ('import sys; sys.modules["importlib_metadata"] = None\n'
              'import msnet_mmaction, importlib.metadata\n'
              'from mmaction.utils import dependency\n'
              'print(dependency.distribution is importlib.metadata.distribution)')
    assert python('-c', script).stdout.strip().endswith('True')


@pytest.mark.slow
def test_mmaction_config_paths_resolve_without_pkg_resources():
    script = ('import sys; sys.modules["pkg_resources"] = None\n'
              'import msnet_mmaction\n'
              'from mmengine.config import Config\n'
              f'cfg = Config.fromfile({MSNET_CONFIG!r})\n'
              'print(cfg.model.backbone.type, cfg.default_scope)')
    assert python('-c', script).stdout.strip().endswith('ResNetTSM mmaction')


@pytest.mark.slow
def test_runner_checkpoint_loads_with_weights_only(trained_run):
    checkpoint = osp.join(trained_run, 'epoch_1.pth')
    loaded = torch.load(checkpoint, map_location='cpu', weights_only=True)
    history = loaded['message_hub']['log_scalars']['train/loss']
    assert type(history).__name__ == 'HistoryBuffer'
    assert history.current() == pytest.approx(float(history.data[0][-1]))
    assert any('motion_modules' in key for key in loaded['state_dict'])


@pytest.mark.slow
def test_checkpoint_needs_the_allow_list(trained_run):
    """Without msnet_mmaction imported, torch refuses the same file: the allow-list is what loads it."""
    script = ('import torch\n'
              f'torch.load({osp.join(trained_run, "epoch_1.pth")!r}, weights_only=True)')
    result = python('-c', script, check=False)
    assert result.returncode != 0 and 'weights_only' in result.stderr


class _Exploit:

    def __reduce__(self):
        return (os.system, ('echo owned',))


@pytest.mark.slow
def test_checkpoint_with_foreign_global_is_refused(tmp_path, synthetic_root):
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, payload=_Exploit()), path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    result = python('tools/test.py', MSNET_CONFIG, path, '--work-dir', str(tmp_path / 'wd'),
                    env=dict(MSNET_SYNTHETIC_ROOT=synthetic_root), check=False)
    assert result.returncode != 0
    assert 'Refused to load checkpoint' in result.stderr and 'If you trust this file' in result.stderr
    assert 'owned' not in result.stdout
    converted = python('tools/convert_official_checkpoint.py', path, str(tmp_path / 'out.pth'),
                       check=False)
    assert converted.returncode != 0 and 'Refused to load checkpoint' in converted.stderr
    assert 'owned' not in converted.stdout and not osp.exists(str(tmp_path / 'out.pth'))


def test_restricted_getattr_only_serves_history_buffer():
    from mmengine.logging import HistoryBuffer
    from msnet_mmaction.compat.checkpoint import _history_buffer_method
    assert _history_buffer_method(HistoryBuffer, 'mean') is HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError):
        _history_buffer_method(os, 'system')
    with pytest.raises(pickle.UnpicklingError):
        _history_buffer_method(HistoryBuffer, '__init__')


@pytest.mark.slow
def test_test_tool_evaluates_and_dumps(trained_run, synthetic_root, tmp_path):
    dump = str(tmp_path / 'predictions.pkl')
    out = python('tools/test.py', MSNET_CONFIG, osp.join(trained_run, 'epoch_1.pth'), '--work-dir',
                 str(tmp_path / 'wd'), '--dump', dump,
                 env=dict(MSNET_SYNTHETIC_ROOT=synthetic_root)).stdout
    assert 'acc/top1' in out
    from msnet_mmaction.analysis.prediction_accuracy import accuracy_report, load_predictions
    scores, labels = load_predictions(dump)
    assert scores.shape == (8, 8)
    with open(osp.join(synthetic_root, 'val_list_rawframes.txt')) as f:
        expected = [int(line.split()[2]) for line in f]
    assert labels.tolist() == expected
    report = accuracy_report(scores, labels)
    assert 0.0 <= report['top1'] <= report['top5'] <= 1.0
    # MMAction2's own score-fusion tool reads the file and agrees on every number.
    import mmaction
    tool = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools', 'analysis_tools',
                    'report_accuracy.py')
    printed = python(tool, '--preds', dump, '--coefficients', '1').stdout
    for name, key in (('Mean Class', 'mean_class'), ('Top 1', 'top1'), ('Top 5', 'top5')):
        assert f'{name} Accuracy: {report[key]:.04f}' in printed


@pytest.mark.slow
def test_exactly_the_harmless_warnings_are_silenced():
    """Importing the plugin and MMAction2's models with Python's default warning filters: the
    two known harmless messages are gone, any other warning still shows."""
    resolve = ('from mmengine.utils import get_installed_path\n'
               "get_installed_path('mmaction2')\n")  # where MMEngine imports pkg_resources
    script = ('import warnings, msnet_mmaction, mmaction.models\n' + resolve +
              "warnings.warn('an unrelated warning')\n")
    stderr = python('-c', script, env=dict(PYTHONWARNINGS='default')).stderr
    assert 'MultiScaleDeformableAttention' not in stderr
    assert 'pkg_resources is deprecated' not in stderr
    assert 'an unrelated warning' in stderr
    unsilenced = python('-c', resolve, env=dict(PYTHONWARNINGS='default')).stderr
    assert 'pkg_resources is deprecated' in unsilenced  # the premise: MMEngine does warn


@pytest.mark.slow
def test_runner_names_processes_not_gpus_without_cuda(trained_run):
    if torch.cuda.is_available():
        pytest.skip('the runner logs a GPU count where CUDA is available')
    log = next(open(path).read() for path in glob.glob(osp.join(trained_run, '*', '*.log')))
    assert '    processes (no CUDA GPU): 1\n' in log and 'GPU number' not in log


def test_constraints_pin_what_setup_cfg_accepts():
    """requirements/constraints.txt, which CI and tools/setup_env.sh install with, pins one version
    of every dependency in setup.cfg except torch, and each pin satisfies setup.cfg's range."""
    import configparser
    from packaging.requirements import Requirement
    with open(osp.join(REPO, 'requirements', 'constraints.txt')) as f:
        pins = dict(line.strip().split('==') for line in f if line.strip() and line[0] != '#')
    pins = {name.lower().replace('_', '-'): version for name, version in pins.items()}
    setup = configparser.ConfigParser()
    setup.read(osp.join(REPO, 'setup.cfg'))
    wanted = [Requirement(line) for section in ('options', 'options.extras_require')
              for key in ('install_requires', 'tests')
              if setup.has_option(section, key)
              for line in setup.get(section, key).strip().splitlines()]
    assert 'torch' not in pins and 'triton' not in pins
    for requirement in wanted:
        name = requirement.name.lower().replace('_', '-')
        if name in ('torch', 'triton', 'setuptools'):
            continue  # the installed torch build brings its own
        assert name in pins, f'{name} is not pinned'
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])
    with open(osp.join(REPO, 'tools', 'setup_env.sh')) as f:
        assert '-c "$root/requirements/constraints.txt"' in f.read()


IMPORT_FOOTPRINT = '''
import inspect
import mmaction.datasets, mmaction.datasets.transforms, mmengine.dataset, mmengine.runner
from mmengine.analysis import complexity_analysis
from mmengine.utils import import_modules_from_strings

MODULES = (mmaction.datasets, mmaction.datasets.transforms, mmengine.dataset, mmengine.runner)


def snapshot():
    classes = {c for m in MODULES for c in vars(m).values() if inspect.isclass(c)}
    members = {(c.__module__, c.__qualname__, name): value for c in classes
               for name, value in vars(c).items()}
    return members, dict(complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS)


members, flop_ops = snapshot()
import_modules_from_strings(['msnet_mmaction'])  # what custom_imports does
after, after_flop_ops = snapshot()
print(len(members))
print(sorted(k for k in set(members) | set(after) if members.get(k) is not after.get(k)))
print(after_flop_ops == flop_ops)
'''


@pytest.mark.slow
def test_importing_the_plugin_changes_no_mmaction_or_mmengine_class():
    """``custom_imports=['msnet_mmaction']`` registers; it replaces no method of MMAction2's
    datasets and transforms or of MMEngine's datasets and runner, adds none, and leaves MMEngine's
    FLOP table as it was (a config imports ``msnet_mmaction.analysis.mmengine_flop_table`` for
    that)."""
    count, changed, same_flops = python('-c', IMPORT_FOOTPRINT).stdout.splitlines()[-3:]
    assert int(count) > 500  # the snapshot sees the classes' members
    assert changed == '[]'
    assert same_flops == 'True'


def test_decord_is_required_on_x86_64_only():
    """decord has no aarch64 or arm64 wheels: setup.cfg and requirements/runtime.txt ask for it
    where it exists, and the route without it names a decoder that installs everywhere."""
    import configparser

    from packaging.requirements import Requirement
    config = configparser.ConfigParser()
    config.read(osp.join(REPO, 'setup.cfg'))
    with open(osp.join(REPO, 'requirements', 'runtime.txt')) as f:
        runtime = [line.strip() for line in f if line.strip() and not line.startswith('#')]
    setup = [line.strip() for line in config['options']['install_requires'].splitlines()]
    decords = [Requirement(line) for line in setup + runtime if line.startswith('decord')]
    assert len(decords) == 2
    for requirement in decords:
        machines = {m: requirement.marker.evaluate({'platform_machine': m})
                    for m in ('x86_64', 'AMD64', 'aarch64', 'arm64')}
        assert machines == {'x86_64': True, 'AMD64': True, 'aarch64': False, 'arm64': False}
    with open(osp.join(REPO, 'requirements', 'without_decord.txt')) as f:
        names = {Requirement(line.strip()).name for line in f
                 if line.strip() and not line.startswith('#')}
    assert 'decord' not in names and 'av' in names and 'mmcv-lite' in names
