# The MSNet recipe for Something-Something: SGD (Nesterov) lr 0.01 for a total batch of 48, x0.1 at
# epochs 20 and 30, 40 epochs, weight decay 5e-4 except on norms and biases (TSM's optimizer
# constructor, fc_lr5), gradient clipping at 200. `--auto-scale-lr` scales lr to other batch sizes.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=40, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=40, by_epoch=True, milestones=[20, 30], gamma=0.1)
]
optim_wrapper = dict(
    constructor='TSMOptimWrapperConstructor',
    paramwise_cfg=dict(fc_lr5=True),
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4),
    clip_grad=dict(max_norm=200, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=48)
