# Fine-tuning on HMDB-51 from a Kinetics-400 checkpoint, MMAction2 0.x's TSM recipe: SGD lr 0.0015
# for 8 GPUs x 12 clips, x0.1 at epochs 10 and 20, 25 epochs, weight decay 5e-4 except on norms and
# biases, gradient clipping at 20.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=25, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=25, by_epoch=True, milestones=[10, 20], gamma=0.1)
]
optim_wrapper = dict(
    constructor='TSMOptimWrapperConstructor',
    paramwise_cfg=dict(fc_lr5=True),
    optimizer=dict(type='SGD', lr=0.0015, momentum=0.9, weight_decay=5e-4),
    clip_grad=dict(max_norm=20, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=96)
