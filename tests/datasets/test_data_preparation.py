"""Annotation builders on small files in the official formats, SelectiveFlip, and tools/ensemble.py."""
import json
import os
import os.path as osp

import mmengine
import numpy as np
import pytest
from helpers import python
from mmaction.registry import TRANSFORMS

from msnet_mmaction.datasets import (AnnotationError, hmdb51_file_lists, kinetics_classes,
                                     kinetics_file_list, sthv1_file_list, sthv2_file_list)


def write(path, text: str) -> str:
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def test_sthv1_counts_frames_and_maps_labels(tmp_path):
    labels = write(tmp_path / 'labels.csv', 'Holding something\nPushing something\n')
    split = write(tmp_path / 'train.csv', '7;Pushing something\n\n9;Holding something\n')
    for video, frames in (('7', 3), ('9', 5)):
        for t in range(1, frames + 1):
            write(tmp_path / 'frames' / video / f'{t:05d}.jpg', '')
    result = sthv1_file_list(labels, split, str(tmp_path / 'frames'))
    assert result.lines == ['7 3 1', '9 5 0'] and result.skipped == []


@pytest.mark.parametrize('line, message', [
    ('7,Pushing something', 'expected "id;label"'),
    ('7;Pulling something', "unknown label 'Pulling something'"),
])
def test_sthv1_malformed_line_names_file_and_line(tmp_path, line, message):
    labels = write(tmp_path / 'labels.csv', 'Holding something\nPushing something\n')
    split = write(tmp_path / 'train.csv', f'9;Holding something\n{line}\n')
    write(tmp_path / 'frames' / '9' / '00001.jpg', '')
    with pytest.raises(AnnotationError, match=rf'train.csv:2: {message}'):
        sthv1_file_list(labels, split, str(tmp_path / 'frames'))


def test_sthv1_missing_frames_fail_or_are_reported(tmp_path):
    labels = write(tmp_path / 'labels.csv', 'Holding something\n')
    split = write(tmp_path / 'train.csv', '9;Holding something\n4;Holding something\n')
    write(tmp_path / 'frames' / '9' / '00001.jpg', '')
    with pytest.raises(AnnotationError, match=r'train.csv:2: frame folder .*4 does not exist'):
        sthv1_file_list(labels, split, str(tmp_path / 'frames'))
    result = sthv1_file_list(labels, split, str(tmp_path / 'frames'), skip_missing=True)
    assert result.lines == ['9 1 0']
    assert [(s.line, osp.basename(s.media)) for s in result.skipped] == [(2, '4')]


def _sthv2_files(tmp_path, entries):
    labels = write(tmp_path / 'labels.json', json.dumps({'Moving something up': '1',
                                                         'Moving something down': '0'}))
    split = write(tmp_path / 'train.json', json.dumps(entries, indent=4))
    return labels, split


def test_sthv2_maps_templates(tmp_path):
    labels, split = _sthv2_files(tmp_path, [
        dict(id='11', label='moving a cup up', template='Moving [something] up', placeholders=['a cup']),
        dict(id='12', label='moving a pen down', template='Moving [something] down',
             placeholders=['a pen'])])
    assert sthv2_file_list(labels, split).lines == ['11.webm 1', '12.webm 0']


def test_sthv2_bad_entry_names_its_line(tmp_path):
    labels, split = _sthv2_files(tmp_path, [
        dict(id='11', template='Moving [something] up'),
        dict(id='12', template='Turning [something] around')])
    with open(split) as f:
        line = next(n for n, text in enumerate(f, start=1) if '"12"' in text) - 1
    with pytest.raises(AnnotationError, match=rf'train.json:{line}: unknown template'):
        sthv2_file_list(labels, split)


def test_sthv2_missing_video_and_broken_json(tmp_path):
    labels, split = _sthv2_files(tmp_path, [dict(id='11', template='Moving [something] up')])
    with pytest.raises(AnnotationError, match=r'train.json:2: video .*11.webm does not exist'):
        sthv2_file_list(labels, split, video_root=str(tmp_path))
    broken = write(tmp_path / 'broken.json',
                   '[\n  {"id": "1", "template": "Moving [something] up"},\n  {"id": \n')
    with pytest.raises(AnnotationError, match=r'broken.json:4: invalid JSON'):
        sthv2_file_list(labels, broken)


KINETICS_HEADER = 'label,youtube_id,time_start,time_end,split,is_cc\n'


def test_kinetics_names_videos_and_sorts_classes(tmp_path):
    train = write(tmp_path / 'train.csv', KINETICS_HEADER + 'zumba,abc,5,15,train,0\n'
                  '"riding, or walking with horse",xyz,0.0,10.0,train,0\n')
    classes = kinetics_classes(train)
    assert classes == ['riding, or walking with horse', 'zumba']
    assert kinetics_file_list(train, classes).lines == ['abc_000005_000015.mp4 1',
                                                       'xyz_000000_000010.mp4 0']


@pytest.mark.parametrize('row, message', [
    ('zumba,abc,5\n', 'expected 6 fields'),
    ('zumba,abc,five,15,train,0\n', 'bad time_start/time_end'),
    ('salsa,abc,5,15,train,0\n', "unknown label 'salsa'"),
])
def test_kinetics_malformed_rows(tmp_path, row, message):
    train = write(tmp_path / 'train.csv', KINETICS_HEADER + 'zumba,aaa,1,11,train,0\n')
    val = write(tmp_path / 'val.csv', KINETICS_HEADER + 'zumba,bbb,1,11,val,0\n' + row)
    with pytest.raises(AnnotationError, match=rf'val.csv:3: {message}'):
        kinetics_file_list(val, kinetics_classes(train))


def test_kinetics_skips_missing_videos_with_report(tmp_path):
    train = write(tmp_path / 'train.csv', KINETICS_HEADER + 'zumba,aaa,1,11,train,0\n'
                  'zumba,bbb,1,11,train,0\n')
    write(tmp_path / 'videos' / 'bbb_000001_000011.mp4', '')
    result = kinetics_file_list(train, ['zumba'], str(tmp_path / 'videos'), skip_missing=True)
    assert result.lines == ['bbb_000001_000011.mp4 0']
    assert [s.line for s in result.skipped] == [2]


def test_hmdb51_splits(tmp_path):
    splits = tmp_path / 'splits'
    write(splits / 'wave_test_split1.txt', 'w1.avi 1 \nw2.avi 2 \nw3.avi 0 \n')
    write(splits / 'brush_hair_test_split1.txt', 'b1.avi 2 \nb2.avi 1 \n')
    write(splits / 'wave_test_split2.txt', 'w1.avi 2 \n')
    train, test = hmdb51_file_lists(str(splits), 1)
    assert train.lines == ['brush_hair/b2.avi 0', 'wave/w1.avi 1']
    assert test.lines == ['brush_hair/b1.avi 0', 'wave/w2.avi 1']
    write(splits / 'wave_test_split1.txt', 'w1.avi 1 \nw2.avi 3 \n')
    with pytest.raises(AnnotationError, match=r'wave_test_split1.txt:2: expected "video tag"'):
        hmdb51_file_lists(str(splits), 1)
    with pytest.raises(FileNotFoundError, match='split3'):
        hmdb51_file_lists(str(splits), 3)


@pytest.mark.slow
def test_builder_script_reports_error_with_line(tmp_path):
    ann = tmp_path / 'annotations'
    write(ann / 'something-something-v1-labels.csv', 'Holding something\n')
    write(ann / 'something-something-v1-train.csv', '1;Holding something\nnot a line\n')
    write(ann / 'something-something-v1-validation.csv', '1;Holding something\n')
    write(tmp_path / 'frames' / '1' / '00001.jpg', '')
    result = python('tools/data/sthv1/build_file_list.py', '--root', str(tmp_path), '--annotations',
                    str(ann), '--frames', str(tmp_path / 'frames'), check=False)
    assert result.returncode != 0
    assert 'something-something-v1-train.csv:2: expected "id;label"' in result.stderr


def test_selective_flip_never_flips_kept_labels():
    flip = TRANSFORMS.build(dict(type='SelectiveFlip', flip_ratio=0.5, keep_labels=(3, )))
    np.random.seed(0)
    flipped = {3: 0, 4: 0}
    for trial in range(200):
        label = 3 if trial % 2 else 4
        image = np.arange(12, dtype=np.uint8).reshape(2, 6)[..., None].repeat(3, -1)
        results = flip(dict(imgs=[image.copy()], label=label, modality='RGB', img_shape=(2, 6)))
        is_flipped = not np.array_equal(results['imgs'][0], image)
        assert is_flipped == results['flip']
        flipped[label] += is_flipped
    assert flipped[3] == 0 and 30 < flipped[4] < 70
    assert flip.flip_ratio == 0.5


def _dump(path, scores, labels):
    mmengine.dump([dict(pred_score=np.asarray(s, np.float32), gt_label=np.array([y]))
                   for s, y in zip(scores, labels)], str(path))
    return str(path)


@pytest.mark.slow
def test_ensemble_against_hand_computed_scores(tmp_path):
    labels = [0, 1, 2, 1]
    a = [[.6, .3, .1], [.5, .4, .1], [.2, .3, .5], [.1, .2, .7]]
    b = [[.2, .7, .1], [.1, .8, .1], [.5, .4, .1], [.3, .1, .6]]
    # Mean scores: [.4,.5,.1] -> 1 (wrong); [.3,.6,.1] -> 1; [.35,.35,.3] -> 0 (tie, wrong);
    # [.2,.15,.65] -> 2 (wrong): top-1 1/4. Mean class: class 0 0/1, class 1 1/2, class 2 0/1.
    out = python('tools/ensemble.py', _dump(tmp_path / 'a.pkl', a, labels),
                 _dump(tmp_path / 'b.pkl', b, labels), '--out', str(tmp_path / 'fused.pkl')).stdout
    ensemble = next(line for line in out.splitlines() if line.startswith('ensemble')).split()
    assert [float(x) for x in ensemble[1:]] == [25.0, 100.0, pytest.approx(16.67, abs=0.01)]
    fused = mmengine.load(str(tmp_path / 'fused.pkl'))
    np.testing.assert_allclose(fused[3]['pred_score'], [.2, .15, .65], atol=1e-6)
    a_row = next(line for line in out.splitlines() if line.startswith(str(tmp_path / 'a.pkl')))
    assert float(a_row.split()[1]) == 50.0


@pytest.mark.slow
def test_ensemble_refuses_mismatched_clips(tmp_path):
    first = _dump(tmp_path / 'a.pkl', [[1, 0], [0, 1]], [0, 1])
    second = _dump(tmp_path / 'b.pkl', [[1, 0], [0, 1]], [1, 0])
    result = python('tools/ensemble.py', first, second, check=False)
    assert result.returncode != 0 and 'does not list the same clips' in result.stderr
