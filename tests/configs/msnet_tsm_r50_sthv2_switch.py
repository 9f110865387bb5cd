# The README's three-line switch: a stock MMAction2 TSM config turned into MSNet.
_base_ = 'mmaction::recognition/tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_sthv2-rgb.py'
custom_imports = dict(imports=['msnet_mmaction'], allow_failed_imports=False)
model = dict(type='MSNet', motion=dict(type='MotionSqueeze', in_channels=512))
