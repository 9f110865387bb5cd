# TSM ResNet-18 trained from scratch on the synthetic motion dataset (CPU-sized schedule).
_base_ = [
    'mmaction::_base_/models/tsm_r50.py', 'mmaction::_base_/default_runtime.py',
    './synthetic_motion_rawframes.py'
]

model = dict(
    backbone=dict(depth=18, pretrained=None, pretrained2d=False, num_segments=8, norm_eval=False),
    cls_head=dict(num_classes=8, in_channels=512, num_segments=8, dropout_ratio=0.2, init_std=0.01),
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0], format_shape='NCHW'))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=20, norm_type=2))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=3, by_epoch=True, convert_to_iter_based=True)]

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, save_best='auto', max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
auto_scale_lr = dict(enable=False, base_batch_size=8)
