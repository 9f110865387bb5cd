# TSM-R50, 16 frames (stride 4 in the 64-frame window), Kinetics-400 (videos, dense sampling): the
# baseline of msnet_r50_16f_kinetics400.py.
_base_ = ['./tsm_r50_8f_kinetics400.py']

num_segments = 16
model = dict(backbone=dict(num_segments=num_segments), cls_head=dict(num_segments=num_segments))


def _frames(pipeline):
    return [
        dict(t, num_clips=num_segments, frame_interval=4) if t.type == 'DenseSampleFrames' else t
        for t in pipeline
    ]


train_pipeline = _frames(_base_.train_pipeline)
val_pipeline = _frames(_base_.val_pipeline)
test_pipeline = _frames(_base_.test_pipeline)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
