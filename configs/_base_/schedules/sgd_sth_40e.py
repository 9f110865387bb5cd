# The released MotionSqueeze recipe for Something-Something (scripts/train_TSM_Something_v1.sh,
# opts.py): SGD, momentum 0.9, Nesterov, lr 0.01 for a total batch of 48, x0.1 at epochs 20 and 30,
# 40 epochs, weight decay 5e-4, gradient clipping at 200 (L2 norm). Parameter groups as the released
# models.py (TSN.get_optim_policies) files them: conv and classifier weights at the base lr with
# decay, their biases at x2 without decay, norms without decay. MMAction2's TSM constructor does
# exactly that with fc_lr5=False (the released classifier is a Conv1d, so its x5/x10 groups stay
# empty). `--auto-scale-lr` scales lr to other batch sizes.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=40, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=40, by_epoch=True, milestones=[20, 30], gamma=0.1)
]
optim_wrapper = dict(
    constructor='TSMOptimWrapperConstructor',
    paramwise_cfg=dict(fc_lr5=False),
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4),
    clip_grad=dict(max_norm=200, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=48)
