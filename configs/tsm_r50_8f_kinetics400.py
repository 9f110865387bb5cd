# TSM-R50, 8 frames, Kinetics-400 (videos, dense sampling): the baseline of
# msnet_r50_8f_kinetics400.py.
_base_ = [
    './_base_/models/tsm_r50_released.py', './_base_/default_runtime.py',
    './_base_/datasets/kinetics400_videos_dense.py', './_base_/schedules/sgd_kinetics_75e.py'
]

# The released test averages raw class scores over its 30 views before the softmax.
model = dict(
    backbone=dict(num_segments=8),
    cls_head=dict(num_classes=400, num_segments=8, average_clips='score'))
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3, save_best='auto'))
