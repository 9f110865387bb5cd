"""Equal-budget comparisons: tools/compare_models.py (the main job's engine) and the motion study,
run for real on tiny settings, and their tables, leads and plots from known results."""
import json
import os.path as osp
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import REPO, python

from msnet_mmaction.analysis.equal_budget import (IDENTITY_FILE, Run, format_budget, format_leads,
                                                  format_table, learning_curve, plot_curves,
                                                  reusable_metrics, run_identity, trailing_mean)

CONFIGS = [osp.join(REPO, 'configs', f'{m}_r18_8f_synthetic-motion.py') for m in ('msnet', 'tsn')]


def result(model: str, seed: int, top1: float) -> dict:
    return dict(model=model, seed=seed, top1=top1, top5=100.0, mean_class=top1,
                train_seconds=10.0, curve=[(10, top1 / 2), (20, top1)], checkpoint='x.pth',
                iterations=20, batch_size=8, train_clips=160, val_clips=40)


def test_table_and_leads_from_known_results(tmp_path):
    results = [result('msnet', 0, 80.0), result('tsm', 0, 50.0), result('msnet', 1, 60.0),
               result('tsm', 1, 70.0), result('tsn', 0, 12.5)]
    table = format_table(results).splitlines()
    assert table[2] == '| msnet | 80.0 (0), 60.0 (1) | 70.0 ± 10.0 | 100.0 | 10 s |'
    assert table[3] == '| tsm | 50.0 (0), 70.0 (1) | 60.0 ± 10.0 | 100.0 | 10 s |'
    assert table[4] == '| tsn | 12.5 (0) | 12.5 | 100.0 | 10 s |'
    assert format_budget(results) == ('20 iterations of 8 clips from 160 training clips, seeds '
                                      '0, 1; held-out top-1 on 40 clips.')
    assert format_budget([*results, dict(result('x', 2, 1.0), iterations=7)]).startswith(
        'Runs with different budgets')
    assert format_leads(results) == ['msnet - tsm: +10.0 points (mean of 2 seeds), ahead in 1 of 2',
                                     'msnet - tsn: +67.5 points (seed 0), ahead in 1 of 1']
    path = str(tmp_path / 'curves.png')
    plot_curves(results, path, 'title', chance=12.5)
    with open(path, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_trailing_mean_averages_the_window_up_to_each_point():
    curve = [(1, 0.0), (2, 50.0), (3, 100.0), (5, 25.0)]
    assert trailing_mean(curve, 1) == curve
    assert trailing_mean(curve, 2) == [(1, 0.0), (2, 25.0), (3, 75.0), (5, 25.0)]
    assert trailing_mean(curve, 3) == [(1, 0.0), (2, 25.0), (3, 50.0), (5, 62.5)]


def test_a_run_is_reused_only_by_the_same_config_seed_and_overrides(tmp_path):
    config = tmp_path / 'child.py'
    config.write_text(f"_base_ = ['{CONFIGS[1]}']\n")
    run = Run(str(config), 0, str(tmp_path / 'run'), '/data', ('a=1', ))
    identity = run_identity(run)
    assert identity['config']['model']['cls_head']['num_classes'] == 8  # the base is resolved
    logs = tmp_path / 'run' / '20261205_000000' / 'vis_data'
    logs.mkdir(parents=True)
    (logs / 'scalars.json').write_text(json.dumps({'acc/top1': 0.5, 'acc/top5': 1.0,
                                                   'acc/mean1': 0.5}) + '\n')
    (tmp_path / 'run' / IDENTITY_FILE).write_text(json.dumps(identity))
    assert reusable_metrics(run, identity) == dict(top1=50.0, top5=100.0, mean_class=50.0)
    for other in (run._replace(seed=1), run._replace(options=('a=2', )),
                  run._replace(data_root='/elsewhere')):
        assert run_identity(other) != identity
    config.write_text(f"_base_ = ['{CONFIGS[1]}']\nmodel = dict(cls_head=dict(num_classes=4))\n")
    changed = run_identity(run)
    assert changed != identity
    assert reusable_metrics(run, changed) is None
    assert list((tmp_path / 'run').iterdir()) == []  # the other run's logs are gone


@pytest.mark.slow
def test_compare_models_trains_tests_and_resumes(synthetic_root, tmp_path):
    work_dir = str(tmp_path / 'compare')
    args = ['tools/compare_models.py', CONFIGS[0], '--control', CONFIGS[1], '--seeds', '0', '1',
            '--jobs', '2', '--work-dir', work_dir, '--data-root', synthetic_root,
            '--cfg-options', 'default_hooks.checkpoint.save_best=None',
            'default_hooks.logger.interval=1']
    out = python(*args).stdout
    with open(osp.join(work_dir, 'results.json')) as f:
        results = json.load(f)
    # The control config is trained with the first seed only.
    assert [(r['model'], r['seed']) for r in results] == [
        ('msnet_r18_8f_synthetic-motion', 0), ('msnet_r18_8f_synthetic-motion', 1),
        ('tsn_r18_8f_synthetic-motion', 0)]
    for r in results:
        assert 0 <= r['top1'] <= r['top5'] <= 100 and r['train_seconds'] > 0
        # 16 training clips, batch 8: the two iterations, each logged.
        assert [step for step, _ in r['curve']] == [1, 2]
        assert (r['iterations'], r['batch_size'], r['train_clips'], r['val_clips']) == (2, 8, 16, 8)
        curve = learning_curve(osp.dirname(r['checkpoint']))
        assert [tuple(point) for point in r['curve']] == curve
        # 8 held-out clips: whole eighths.
        assert (r['top1'] * 8 / 100) == pytest.approx(round(r['top1'] * 8 / 100))
    assert 'msnet_r18_8f_synthetic-motion - tsn_r18_8f_synthetic-motion: ' in out
    with open(osp.join(work_dir, 'table.md')) as f:
        assert f.readline() == ('2 iterations of 8 clips from 16 training clips, seeds 0, 1; '
                                'held-out top-1 on 8 clips.\n')
    assert osp.isfile(osp.join(work_dir, 'curves.png'))
    again = python(*args).stdout  # everything reused: nothing is trained again
    with open(osp.join(work_dir, 'results.json')) as f:
        assert [r['top1'] for r in json.load(f)] == [r['top1'] for r in results]
    assert again.count(' | - |') == 2  # no training time for either config: the runs were reused
    changed = python(*args, 'model.cls_head.dropout_ratio=0.3').stdout
    assert changed.count(' | - |') == 0  # another override: both configs trained again
    with open(osp.join(work_dir, 'results.json')) as f:
        assert all([step for step, _ in r['curve']] == [1, 2] for r in json.load(f))


@pytest.mark.slow
@pytest.mark.parametrize('sweep, values', [('coherence', ['1', '0.5'])])
def test_motion_study_sweeps_one_property(sweep, values, tmp_path):
    """A sweep over two values with TSN on a tiny budget; run again it reuses every run, and with
    another override it trains every run again."""
    work_dir = str(tmp_path / 'study')
    args = ('tools/analysis/motion_study.py', sweep, '--values', *values, '--models', 'tsn',
            '--seeds', '0', '--iters', '2', '--batch', '4', '--val-clips', '8', '--size', '32',
            '--work-dir', work_dir)
    generator = ('--generator', '--density', '2', '3')
    out = python(*args, *generator).stdout
    rows = [line for line in out.splitlines() if line.startswith('| ') and '|---' not in line]
    assert rows[0].startswith('| coherence (fraction of objects moving with the label) | TSN |')
    assert [row.split('|')[1].strip() for row in rows[1:]] == values
    with open(osp.join(work_dir, sweep, 'results.json')) as f:
        results = json.load(f)
    assert sorted(r['value'] for r in results) == sorted(float(v) for v in values)
    assert all(r['classes'] == 8 and r['generator'] == ['--density', '2', '3'] for r in results)
    assert all(r['train_seconds'] is not None for r in results)
    assert osp.isfile(osp.join(work_dir, sweep, 'study.png'))
    with open(osp.join(work_dir, sweep, 'data', 'coherence=0.5', 'train_list_rawframes.txt')) as f:
        assert len(f.readlines()) == 8
    python(*args, *generator)
    with open(osp.join(work_dir, sweep, 'results.json')) as f:
        again = json.load(f)
    assert [r['top1'] for r in again] == [r['top1'] for r in results]
    assert all(r['train_seconds'] is None for r in again)  # reused, not trained
    python(*args, '--cfg-options', 'model.cls_head.dropout_ratio=0.3', *generator)
    with open(osp.join(work_dir, sweep, 'results.json')) as f:
        assert all(r['train_seconds'] is not None for r in json.load(f))


@pytest.mark.slow
def test_robustness_study_runs_each_setting(tmp_path):
    """Two settings (one resized from 128 px, one with 2 classes) with TSN on a tiny budget: the
    data differ as the settings say, and the table has a row per setting."""
    work_dir = str(tmp_path / 'robustness')
    out = python('tools/analysis/robustness_study.py', '--settings', 'source 128 px',
                 'relative motion', '--models', 'tsn', '--seeds', '0', '--iters', '2', '--batch',
                 '4', '--val-clips', '8', '--work-dir', work_dir).stdout
    rows = [line for line in out.splitlines() if line.startswith('| ')]
    assert rows[0] == '| setting | TSN | chance | MSNet ahead of TSM |'
    assert rows[1].startswith('| source 128 px | ') and rows[1].endswith(' | 12.5 | - |')
    assert rows[2].startswith('| relative motion | ') and rows[2].endswith(' | 50.0 | - |')
    import cv2
    frame = cv2.imread(osp.join(work_dir, 'data', 'source_128_px', 'rawframes', 'train_00000',
                                'img_00001.jpg'))
    assert frame.shape == (128, 128, 3)
    with open(osp.join(work_dir, 'results.json')) as f:
        results = json.load(f)
    assert {(r['setting'], r['classes'], r['iterations'], r['train_clips']) for r in results} == {
        ('source 128 px', 8, 2, 8), ('relative motion', 2, 2, 8)}
    with open(osp.join(work_dir, 'robustness.md')) as f:
        assert f.read().startswith('2 iterations of 4 clips, 8 held-out clips')


def test_run_identities_are_taken_from_several_threads_at_once(tmp_path):
    runs = [Run(CONFIGS[seed % 2], seed, str(tmp_path / str(seed))) for seed in range(4)]
    with ThreadPoolExecutor(4) as pool:
        identities = list(pool.map(run_identity, runs))
    assert [i['seed'] for i in identities] == [0, 1, 2, 3]
    assert identities[0]['config'] == identities[2]['config'] != identities[1]['config']
