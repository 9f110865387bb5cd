# TSM-R50 (MMAction2's model) with the released MotionSqueeze code's classifier: dropout 0.5, then a
# 2048 -> K classifier that starts Xavier-uniform with a zero bias (models.py, TSN._prepare_tsn).
# MMAction2's TSMHead would start it at normal(std 0.001); InitCfgTSMHead applies init_cfg instead.
# The dataset bases import msnet_mmaction, which registers the head (custom_imports).
_base_ = ['mmaction::_base_/models/tsm_r50.py']

model = dict(
    cls_head=dict(
        type='InitCfgTSMHead',
        dropout_ratio=0.5,
        init_cfg=dict(type='Xavier', layer='Linear', distribution='uniform', bias=0)))
