# The synthetic motion dataset of tools/data/make_synthetic_motion.py read as mp4 videos
# (VideoDataset, decord), 8 segments. MSNET_SYNTHETIC_ROOT overrides where it lives.
custom_imports = dict(
    imports=['msnet_mmaction', 'msnet_mmaction.analysis.mmengine_flop_table'],
    allow_failed_imports=False)

dataset_type = 'CheckedVideoDataset'
# 'auto': decord where installed (x86-64), else PyAV, else OpenCV; or name one of them.
video_decoder = 'auto'
data_root = '{{$MSNET_SYNTHETIC_ROOT:data/synthetic_motion}}'

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        decoder=video_decoder,
        ann_file=f'{data_root}/train_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        decoder=video_decoder,
        ann_file=f'{data_root}/val_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
