"""Every config builds and trains one step; every dataset config's pipelines run on data laid out
like the real dataset, with lists made by the project's own annotation builders."""
import glob
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from helpers import REPO
from mmaction.registry import DATASETS, MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from msnet_mmaction.datasets import (hmdb51_file_lists, kinetics_classes, kinetics_file_list,
                                     read_class_names, save_file_list, save_label_map,
                                     sthv1_classes, sthv1_file_list, sthv2_file_list)

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '*.py')))
PAPER_CONFIGS = [c for c in CONFIGS if '_r50_' in osp.basename(c)]


def config_id(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


def test_every_paper_config_has_its_twin():
    names = {config_id(c) for c in CONFIGS}
    assert 'msnet_r50_8f_sthv1' in names
    for dataset in ('sthv1', 'sthv2', 'kinetics400'):
        for frames in (8, 16):
            assert {f'msnet_r50_{frames}f_{dataset}', f'tsm_r50_{frames}f_{dataset}'} <= names
    for split in (1, 2, 3):
        assert {f'msnet_r50_16f_hmdb51-split{split}', f'tsm_r50_16f_hmdb51-split{split}'} <= names
    for name in names:
        twin = name.replace('msnet_', 'tsm_') if name.startswith('msnet_') else None
        if twin is not None:
            assert twin in names, f'{name} has no TSM twin'


@pytest.mark.parametrize('path', [c for c in CONFIGS if osp.basename(c).startswith('msnet_')],
                         ids=config_id)
@pytest.mark.slow
def test_msnet_config_differs_from_twin_only_by_module(path):
    msnet = Config.fromfile(path)
    tsm = Config.fromfile(path.replace('msnet_', 'tsm_'))
    assert msnet.model.pop('type') == 'MSNet' and tsm.model.pop('type') == 'Recognizer2D'
    assert msnet.model.pop('motion')['type'] == 'MotionSqueeze'
    assert msnet.model.to_dict() == tsm.model.to_dict()
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'optim_wrapper',
                'param_scheduler', 'train_cfg', 'auto_scale_lr'):
        assert msnet[key] == tsm[key], key
    if msnet.get('load_from'):
        assert 'msnet_' in msnet.load_from and 'tsm_' in tsm.load_from


@pytest.mark.slow
@pytest.mark.parametrize('path', CONFIGS, ids=config_id)
def test_config_builds_and_trains_one_step(path):
    cfg = Config.fromfile(path)
    backbone = cfg.model.backbone
    backbone.pretrained = None
    if 'pretrained2d' in backbone or backbone.type == 'ResNetTSM':
        backbone.pretrained2d = False
    model = MODELS.build(cfg.model)
    frames = backbone.get('num_segments', 8)
    num_classes = cfg.model.cls_head.num_classes
    inputs = [torch.randint(0, 255, (frames, 3, 64, 64), dtype=torch.uint8) for _ in range(2)]
    samples = [ActionDataSample().set_gt_label(i % num_classes) for i in range(2)]
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = [p.detach().clone() for p in model.parameters()]
    losses = model.train_step(dict(inputs=inputs, data_samples=samples), optim_wrapper)
    assert torch.isfinite(losses['loss_cls'])
    changed = sum(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    assert changed > len(before) // 2
    if cfg.model.type == 'MSNet':
        motion = model.backbone.motion_modules[0]
        assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters())
                   if any(p is q for q in motion.parameters()))


def _write_video(path: str, frames: int, size=(96, 72)) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    fourcc = {'.webm': 'VP80', '.mp4': 'mp4v', '.avi': 'MJPG'}[osp.splitext(path)[1]]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), 12, size)
    rng = np.random.default_rng(len(path))
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()


def _lines(path: str, lines) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(f'{line}\n' for line in lines))
    return path


SOMETHING_CLASSES = read_class_names(osp.join(REPO, 'tests', 'data', 'sthv1_label_map.txt'))


def _make_sthv1():
    _lines('data/sthv1/annotations/something-something-v1-labels.csv', SOMETHING_CLASSES)
    for split, ids in (('train', (11, 12)), ('validation', (13, ))):
        _lines(f'data/sthv1/annotations/something-something-v1-{split}.csv',
               [f'{i};{SOMETHING_CLASSES[i]}' for i in ids])
        for i in ids:
            for t in range(1, 21):
                frame = np.full((60, 80, 3), 10 * t, np.uint8)
                os.makedirs(f'data/sthv1/rawframes/{i}', exist_ok=True)
                cv2.imwrite(f'data/sthv1/rawframes/{i}/{t:05d}.jpg', frame)
    labels = 'data/sthv1/annotations/something-something-v1-labels.csv'
    for split, name in (('train', 'train'), ('val', 'validation')):
        save_file_list(sthv1_file_list(labels,
                                       f'data/sthv1/annotations/something-something-v1-{name}.csv',
                                       'data/sthv1/rawframes'),
                       f'data/sthv1/sthv1_{split}_list_rawframes.txt')
    save_label_map(sthv1_classes(labels), 'data/sthv1/label_map.txt')


def _make_sthv2():
    os.makedirs('data/sthv2/annotations', exist_ok=True)
    names = sorted(SOMETHING_CLASSES)
    labels = 'data/sthv2/annotations/something-something-v2-labels.json'
    with open(labels, 'w') as f:
        json.dump({name: str(i) for i, name in enumerate(names)}, f)
    for split, ids in (('train', (21, 22)), ('validation', (23, ))):
        with open(f'data/sthv2/annotations/something-something-v2-{split}.json', 'w') as f:
            json.dump([dict(id=str(i), template=names[i].replace('something', '[something]'),
                            label='x', placeholders=['x']) for i in ids], f, indent=2)
        for i in ids:
            _write_video(f'data/sthv2/videos/{i}.webm', 24)
        name = 'val' if split == 'validation' else split
        save_file_list(sthv2_file_list('data/sthv2/annotations/something-something-v2-labels.json',
                                       f'data/sthv2/annotations/something-something-v2-{split}.json',
                                       'data/sthv2/videos'),
                       f'data/sthv2/sthv2_{name}_list_videos.txt')
    save_label_map(read_class_names(labels), 'data/sthv2/label_map.txt')


def _make_kinetics400():
    header = 'label,youtube_id,time_start,time_end,split'
    rows = {'train': ['abseiling,aaa,1,11,train', 'zumba,bbb,20,30,train'],
            'validate': ['zumba,ccc,0,10,val']}
    for split, lines in rows.items():
        _lines(f'data/kinetics400/annotations/{split}.csv', [header, *lines])
        folder = 'videos_train' if split == 'train' else 'videos_val'
        for line in lines:
            label, vid, start, end, _ = line.split(',')
            _write_video(f'data/kinetics400/{folder}/{vid}_{int(start):06d}_{int(end):06d}.mp4', 70)
    classes = kinetics_classes('data/kinetics400/annotations/train.csv')
    for split, csv_name, folder in (('train', 'train', 'videos_train'), ('val', 'validate',
                                                                          'videos_val')):
        save_file_list(kinetics_file_list(f'data/kinetics400/annotations/{csv_name}.csv', classes,
                                          f'data/kinetics400/{folder}'),
                       f'data/kinetics400/kinetics400_{split}_list_videos.txt')


def _make_hmdb51():
    for split in (1, 2, 3):
        for name in ('brush_hair', 'wave'):
            _lines(f'data/hmdb51/annotations/{name}_test_split{split}.txt',
                   [f'{name}_a.avi {1 + (split == 2)} ', f'{name}_b.avi {2 - (split == 2)} ',
                    f'{name}_c.avi 0 '])
    for name in ('brush_hair', 'wave'):
        for clip in 'ab':
            _write_video(f'data/hmdb51/videos/{name}/{name}_{clip}.avi', 40)
    for split in (1, 2, 3):
        train, val = hmdb51_file_lists('data/hmdb51/annotations', split, 'data/hmdb51/videos')
        save_file_list(train, f'data/hmdb51/hmdb51_train_split_{split}_videos.txt')
        save_file_list(val, f'data/hmdb51/hmdb51_val_split_{split}_videos.txt')


MAKERS = {'sthv1': _make_sthv1, 'sthv2': _make_sthv2, 'kinetics400': _make_kinetics400,
          'hmdb51': _make_hmdb51}


def _expected_views(pipeline) -> int:
    views = 1
    for t in pipeline:
        if t['type'] == 'ThreeCrop':
            views *= 3
        if t['type'] == 'DenseSampleFrames' and t.get('test_mode'):
            views *= t.get('num_sample_positions', 10)
    return views


@pytest.mark.parametrize('name', [
    'msnet_r50_8f_sthv1', 'msnet_r50_16f_sthv1', 'msnet_r50_8f_sthv2', 'msnet_r50_16f_kinetics400',
    'msnet_r50_8f_kinetics400', 'msnet_r50_16f_hmdb51-split2'
])
@pytest.mark.slow
def test_dataset_pipelines_on_real_layout(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dataset = next(key for key in MAKERS if key in name)
    MAKERS[dataset]()
    cfg = Config.fromfile(osp.join(REPO, 'configs', f'{name}.py'))
    frames = cfg.model.backbone.num_segments
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset_cfg = cfg[loader].dataset
        data = DATASETS.build(dataset_cfg)
        assert len(data) >= 1
        item = data[0]
        views = _expected_views(dataset_cfg.pipeline)
        side = 256 if any(t['type'] == 'ThreeCrop' for t in dataset_cfg.pipeline) else 224
        assert item['inputs'].shape == (views * frames, 3, side, side), loader
        assert item['inputs'].dtype == torch.uint8
        assert 0 <= int(item['data_samples'].gt_label) < cfg.model.cls_head.num_classes


def test_metafile_lists_every_paper_config():
    import yaml
    with open(osp.join(REPO, 'configs', 'metafile.yml')) as f:
        models = yaml.safe_load(f)['Models']
    listed = {m['Config'] for m in models}
    expected = {osp.relpath(c, REPO) for c in PAPER_CONFIGS if 'msnet_' in osp.basename(c)}
    assert listed == expected
    for model in models:
        assert osp.isfile(osp.join(REPO, model['Config']))
        for result in model.get('Results', []):
            assert all(name.endswith('(paper)') for name in result['Metrics'])
