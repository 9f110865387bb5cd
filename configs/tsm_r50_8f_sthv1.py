# TSM-R50, 8 frames, Something-Something V1 (raw frames): the baseline of msnet_r50_8f_sthv1.py.
_base_ = [
    './_base_/models/tsm_r50_released.py', './_base_/default_runtime.py',
    './_base_/datasets/sthv1_rawframes.py', './_base_/schedules/sgd_sth_40e.py'
]

model = dict(
    backbone=dict(num_segments=8),
    cls_head=dict(num_classes=174, num_segments=8))
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='auto'))
