# ResNet-18 from scratch on the 64 px synthetic motion dataset, sized for a 2-core CPU: one pass
# over 4,000 new clips (500 iterations of 8), AdamW lr 1e-3 with 20 warm-up iterations and cosine
# decay. TSM here; the MSNet and TSN configs change only the model.
_base_ = ['mmaction::_base_/models/tsm_r50.py', './default_runtime.py']

model = dict(
    backbone=dict(depth=18, pretrained=None, pretrained2d=False, num_segments=8, norm_eval=False),
    cls_head=dict(num_classes=8, in_channels=512, num_segments=8, dropout_ratio=0.2, init_std=0.01),
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0], format_shape='NCHW'))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=20, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=1, convert_to_iter_based=True)
]

default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=1, save_best='auto', max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=8)
