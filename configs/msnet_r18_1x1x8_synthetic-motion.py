# MSNet-R18 (TSM ResNet-18 + MotionSqueeze after layer2) on the synthetic motion dataset.
_base_ = ['./_base_/tsm_r18_synthetic_motion.py']

custom_imports = dict(imports=['msnet_mmaction'], allow_failed_imports=False)
model = dict(type='MSNet', motion=dict(type='MotionSqueeze', in_channels=128))
