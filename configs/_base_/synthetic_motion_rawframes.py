# The synthetic motion dataset of tools/data/make_synthetic_motion.py, read as raw frames.
# MSNET_SYNTHETIC_ROOT overrides where it lives.
dataset_type = 'RawframeDataset'
data_root = '{{$MSNET_SYNTHETIC_ROOT:data/synthetic_motion}}'
num_segments = 8
input_size = 64

train_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=num_segments),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=num_segments, test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
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
        ann_file=f'{data_root}/train_list.txt',
        data_prefix=dict(img=f'{data_root}/rawframes'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=f'{data_root}/val_list.txt',
        data_prefix=dict(img=f'{data_root}/rawframes'),
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
