# The released MotionSqueeze recipe for Kinetics-400 (scripts/train_TSM_Kinetics.sh, opts.py): SGD,
# momentum 0.9 without Nesterov (the script does not pass --nesterov, whose default is off), lr 0.02
# for a total batch of 96, x0.1 at epochs 30 and 60, 75 epochs, weight decay 1e-4, gradient clipping
# at 20. Parameter groups as in sgd_sth_40e.py (classifier x1 weight, x2 bias without decay).
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=75, val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=75, by_epoch=True, milestones=[30, 60], gamma=0.1)
]
optim_wrapper = dict(
    constructor='TSMOptimWrapperConstructor',
    paramwise_cfg=dict(fc_lr5=False),
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, nesterov=False, weight_decay=1e-4),
    clip_grad=dict(max_norm=20, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=96)
