# MSNet-R50, 8 frames, Something-Something V1 (raw frames): tsm_r50_8f_sthv1.py plus MotionSqueeze
# after layer2.
_base_ = ['./tsm_r50_8f_sthv1.py']

model = dict(type='MSNet', motion=dict(type='MotionSqueeze', in_channels=512))
