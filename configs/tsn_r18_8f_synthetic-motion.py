# TSN-R18 on the synthetic motion dataset (raw frames): same data, schedule and ResNet-18 as the
# TSM and MSNet configs, without temporal modelling. Frames are classified one by one and their
# scores averaged, so it can only use appearance, which carries no label here.
_base_ = ['./tsm_r18_8f_synthetic-motion.py']

model = dict(
    backbone=dict(_delete_=True, type='ResNet', depth=18, pretrained=None, norm_eval=False),
    cls_head=dict(_delete_=True, type='TSNHead', num_classes=8, in_channels=512,
                  dropout_ratio=0.2, init_std=0.01, average_clips='prob'))
