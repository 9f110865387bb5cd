"""Classes by name: label maps written by the list builders, and the Something-Something configs'
train pipelines, which must never mirror the direction classes whatever order the lists number the
classes in."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from helpers import REPO, python
from mmaction.registry import DATASETS, TRANSFORMS
from mmengine.config import Config

from msnet_mmaction.datasets import class_ids, read_class_names, save_label_map

# Something-Something V1's labels file, in its own line order (public; class names are facts).
V1_NAMES = read_class_names(osp.join(REPO, 'tests', 'data', 'sthv1_label_map.txt'))
DIRECTION = {
    'Pushing something from left to right', 'Pushing something from right to left',
    'Pulling something from left to right', 'Pulling something from right to left',
    'Turning the camera left while filming something',
    'Turning the camera right while filming something'
}
# Classes that must be mirrored like any other: the first contains "right" but names no direction;
# the next two are what ids 86 and 87 (direction classes in sorted order) mean in V1's file order.
OTHERS = [
    'Plugging something into something but pulling it right out as you remove your hand',
    'Pretending to close something without actually closing it',
    'Putting something upright on the table', 'Holding something'
]


def test_v1_label_map_positions():
    """The fact the configs rely on: in V1's file order the direction classes are not at their
    sorted positions."""
    assert len(V1_NAMES) == 174
    assert sorted(V1_NAMES.index(n) for n in DIRECTION) == [2, 4, 30, 41, 52, 66]
    assert sorted(sorted(V1_NAMES).index(n) for n in DIRECTION) == [86, 87, 93, 94, 166, 167]
    assert [V1_NAMES[86], V1_NAMES[87]] == OTHERS[1:3]


def test_read_write_and_lookup(tmp_path):
    path = str(tmp_path / 'label_map.txt')
    save_label_map(['b', 'a', 'c'], path)
    with open(path) as f:
        assert f.read() == 'b\na\nc\n'
    assert read_class_names(path) == ['b', 'a', 'c']
    assert class_ids(['c', 'b'], path) == [2, 0]
    labels = tmp_path / 'labels.json'
    labels.write_text(json.dumps({'b': '1', 'a': '2', 'c': '0'}))
    assert read_class_names(str(labels)) == ['c', 'b', 'a']
    with pytest.raises(KeyError, match=rf"'d' is not in the label map {path}"):
        class_ids(['d'], path)
    labels.write_text(json.dumps({'b': '1', 'a': '3'}))
    with pytest.raises(ValueError, match='ids must be 0..1'):
        read_class_names(str(labels))
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        read_class_names(str(tmp_path / 'missing.txt'))


def _ramp_frame(height: int = 60, width: int = 80) -> np.ndarray:
    """Brightness rising from left to right: a mirrored frame falls from left to right."""
    ramp = np.linspace(20, 235, width, dtype=np.float32).astype(np.uint8)
    return np.repeat(np.tile(ramp, (height, 1))[..., None], 3, axis=2)


def _write_v1(root: str, names, class_order: str):
    """V1 annotations for one clip per class in ``DIRECTION`` and ``OTHERS``; lists built by the
    project's builder. Returns {video id: class name}."""
    ann = osp.join(root, 'annotations')
    os.makedirs(ann)
    with open(osp.join(ann, 'something-something-v1-labels.csv'), 'w') as f:
        f.writelines(f'{name}\n' for name in names)
    clips = {str(100 + i): name for i, name in enumerate(sorted(DIRECTION) + OTHERS)}
    for split in ('train', 'validation'):
        with open(osp.join(ann, f'something-something-v1-{split}.csv'), 'w') as f:
            f.writelines(f'{video};{name}\n' for video, name in clips.items())
    for video in clips:
        os.makedirs(osp.join(root, 'rawframes', video))
        for t in range(1, 9):
            cv2.imwrite(osp.join(root, 'rawframes', video, f'{t:05d}.jpg'), _ramp_frame())
    root, ann = osp.abspath(root), osp.abspath(ann)
    python('tools/data/sthv1/build_file_list.py', '--root', root, '--annotations', ann,
           '--frames', osp.join(root, 'rawframes'), '--class-order', class_order)
    return clips


def _write_v2(root: str, ids):
    """V2 annotations (labels JSON with the given ids), one webm clip per class of interest."""
    ann = osp.join(root, 'annotations')
    os.makedirs(ann)
    with open(osp.join(ann, 'something-something-v2-labels.json'), 'w') as f:
        json.dump({name: str(i) for name, i in ids.items()}, f)
    clips = {str(200 + i): name for i, name in enumerate(sorted(DIRECTION) + OTHERS)}
    for split in ('train', 'validation'):
        with open(osp.join(ann, f'something-something-v2-{split}.json'), 'w') as f:
            json.dump([dict(id=video, template=name.replace('something', '[something]'))
                       for video, name in clips.items()], f)
    os.makedirs(osp.join(root, 'videos'))
    for video in clips:
        writer = cv2.VideoWriter(osp.join(root, 'videos', f'{video}.webm'),
                                 cv2.VideoWriter_fourcc(*'VP80'), 12, (80, 60))
        for _ in range(12):
            writer.write(_ramp_frame())
        writer.release()
    root, ann = osp.abspath(root), osp.abspath(ann)
    python('tools/data/sthv2/build_file_list.py', '--root', root, '--annotations', ann,
           '--videos', osp.join(root, 'videos'))
    return clips


def _flips_per_class(config: str, clips, draws: int = 16):
    """How often the config's real train pipeline mirrored each class's clip in ``draws`` runs."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    np.random.seed(0)
    flips = {}
    for index in range(len(dataset)):
        video = dataset.get_data_info(index)['filename' if 'filename' in dataset.get_data_info(
            index) else 'frame_dir']
        name = clips[osp.splitext(osp.basename(video))[0]]
        count = 0
        for _ in range(draws):
            frames = dataset[index]['inputs'].float()  # (T, 3, 224, 224)
            left, right = frames[..., :, :32].mean(), frames[..., :, -32:].mean()
            assert abs(left - right) > 50, 'the ramp must survive the crop'
            count += bool(left > right)
        flips[name] = count
    return flips


def _check_flips(flips, draws: int = 16):
    assert set(flips) == DIRECTION | set(OTHERS)
    for name, count in flips.items():
        if name in DIRECTION:
            assert count == 0, f'{name!r} was mirrored'
        else:
            assert 0 < count < draws, f'{name!r} mirrored {count} of {draws} times'


@pytest.mark.parametrize('class_order', ['file', 'sorted'])
def test_sthv1_train_pipeline_keeps_direction_classes(class_order, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clips = _write_v1('data/sthv1', V1_NAMES, class_order)
    expected = V1_NAMES if class_order == 'file' else sorted(V1_NAMES)
    assert read_class_names('data/sthv1/label_map.txt') == expected
    with open('data/sthv1/sthv1_train_list_rawframes.txt') as f:
        labels = {line.split()[0]: int(line.split()[2]) for line in f}
    assert all(expected[labels[video]] == name for video, name in clips.items())
    _check_flips(_flips_per_class('msnet_r50_8f_sthv1.py', clips))


@pytest.mark.parametrize('id_order', ['sorted', 'reversed'])
def test_sthv2_train_pipeline_keeps_direction_classes(id_order, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = sorted(V1_NAMES)  # V2's labels JSON numbers the same names in sorted order
    order = names if id_order == 'sorted' else names[::-1]
    clips = _write_v2('data/sthv2', {name: i for i, name in enumerate(order)})
    assert read_class_names('data/sthv2/label_map.txt') == order
    _check_flips(_flips_per_class('tsm_r50_16f_sthv2.py', clips))


def test_missing_label_map_or_class_fails_when_the_dataset_is_built(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_v1('data/sthv1', V1_NAMES, 'file')
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'msnet_r50_8f_sthv1.py'))
    os.remove('data/sthv1/label_map.txt')
    with pytest.raises(FileNotFoundError, match='data/sthv1/label_map.txt'):
        DATASETS.build(cfg.train_dataloader.dataset)
    save_label_map([n for n in V1_NAMES if n != 'Pulling something from right to left'],
                   'data/sthv1/label_map.txt')
    with pytest.raises(KeyError, match="'Pulling something from right to left' is not in the "
                       'label map data/sthv1/label_map.txt'):
        DATASETS.build(cfg.train_dataloader.dataset)


def test_explicit_ids_and_names_combine(tmp_path):
    path = str(tmp_path / 'label_map.txt')
    save_label_map(['left', 'right', 'other'], path)
    flip = TRANSFORMS.build(dict(type='SelectiveFlip', keep_classes=['right'], label_map=path,
                                 keep_labels=[2]))
    assert flip.keep_labels == {1, 2}
    with pytest.raises(ValueError, match='needs label_map'):
        TRANSFORMS.build(dict(type='SelectiveFlip', keep_classes=['right']))
