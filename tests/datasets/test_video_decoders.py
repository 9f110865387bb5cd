"""The video decoder switch: decord where installed, else PyAV, else OpenCV, and a clear error
for a decoder named but missing (aarch64 and Apple-silicon machines have no decord)."""
import os

import pytest
import torch
from helpers import MSNET_CONFIG
from mmaction.registry import DATASETS
from mmengine.config import Config

from msnet_mmaction.apis import video_test_pipeline
from msnet_mmaction.datasets import video_decoders

VIDEO_CONFIG = MSNET_CONFIG.replace('.py', '-videos.py')


@pytest.fixture
def without_decord(monkeypatch):
    """A machine where decord cannot be imported."""
    installed = video_decoders.installed
    monkeypatch.setattr(video_decoders, 'installed', lambda name: name != 'decord' and
                        installed(name))


def test_auto_takes_the_first_installed_decoder(without_decord):
    fallback = 'pyav' if video_decoders.installed('pyav') else 'opencv'
    assert video_decoders.resolve_decoder('auto') == fallback
    with pytest.raises(ValueError, match=r"my\.switch='decord', but decord is not installed; "
                                         r'install it or set my\.switch to auto'):
        video_decoders.resolve_decoder('decord', switch='my.switch')
    with pytest.raises(ValueError, match=r"my\.switch must be auto or one of"):
        video_decoders.resolve_decoder('ffmpeg', switch='my.switch')


def test_with_decoder_rewrites_only_the_video_steps():
    pipeline = [dict(type='DecordInit', io_backend='disk', num_threads=4),
                dict(type='SampleFrames', clip_len=1, num_clips=8),
                dict(type='DecordDecode', mode='efficient'), dict(type='Resize', scale=(64, 64))]
    rewritten = video_decoders.with_decoder(pipeline, 'opencv')
    assert rewritten == [dict(type='OpenCVInit', io_backend='disk'), pipeline[1],
                         dict(type='OpenCVDecode'), pipeline[3]]
    assert video_decoders.with_decoder(pipeline, 'decord') == pipeline
    assert [s['type'] for s in video_decoders.with_decoder(rewritten, 'pyav')] == [
        'PyAVInit', 'SampleFrames', 'PyAVDecode', 'Resize']


def val_dataset(root: str, **overrides):
    os.environ['MSNET_SYNTHETIC_ROOT'] = root
    try:
        cfg = Config.fromfile(VIDEO_CONFIG)
    finally:
        del os.environ['MSNET_SYNTHETIC_ROOT']
    dataset = cfg.val_dataloader.dataset
    dataset.update(overrides)
    return DATASETS.build(dataset)


def test_video_configs_decode_the_same_frames_with_opencv(synthetic_root, without_decord):
    """The synthetic video config's held-out pipeline through decord and, on a machine without
    decord, through the automatic fallback: the same clips."""
    assert val_dataset(synthetic_root).decoder != 'decord'
    fallback = val_dataset(synthetic_root, decoder='opencv')
    assert [step.__class__.__name__ for step in fallback.pipeline.transforms][:3] == [
        'OpenCVInit', 'SampleFrames', 'OpenCVDecode']
    with pytest.raises(ValueError, match=r'train_dataloader\.dataset\.decoder=pyav'):
        val_dataset(synthetic_root, decoder='decord')


def test_opencv_and_decord_give_the_same_clips(synthetic_root):
    if not video_decoders.installed('decord'):
        pytest.skip('decord is not installed')
    decord = val_dataset(synthetic_root, decoder='decord')
    opencv = val_dataset(synthetic_root, decoder='opencv')
    for index in (0, 5):
        assert torch.equal(decord[index]['inputs'], opencv[index]['inputs'])


def test_the_demo_pipeline_follows_the_switch(without_decord):
    raw = [dict(type='SampleFrames', clip_len=1, num_clips=8), dict(type='RawFrameDecode')]
    assert [s['type'] for s in video_test_pipeline(raw, 'opencv')] == [
        'OpenCVInit', 'SampleFrames', 'OpenCVDecode']
    with pytest.raises(ValueError, match='--decoder'):
        video_test_pipeline(raw, 'decord')


def test_auto_keeps_the_pipelines_own_decoder_where_installed(without_decord):
    opencv = [dict(type='OpenCVInit'), dict(type='OpenCVDecode')]
    decord = [dict(type='DecordInit'), dict(type='DecordDecode')]
    assert video_decoders.pipeline_decoder(opencv) == 'opencv'
    assert video_decoders.pipeline_decoder([dict(type='RawFrameDecode')]) is None
    assert video_decoders.resolve_decoder('auto', pipeline=opencv) == 'opencv'
    assert video_decoders.resolve_decoder('auto', pipeline=decord) != 'decord'
    cfg = Config(dict(train_dataloader=dict(dataset=dict(type='VideoDataset', decoder='auto',
                                                         pipeline=decord)),
                      val_dataloader=dict(dataset=dict(type='CheckedVideoDataset',
                                                       decoder='auto', pipeline=decord))))
    video_decoders.apply_decoder_switch(cfg)
    stock = cfg.train_dataloader.dataset
    assert 'decoder' not in stock and stock.pipeline[0]['type'] != 'DecordInit'
    # A type that takes the switch itself keeps it.
    assert cfg.val_dataloader.dataset.decoder == 'auto'
