# MSNet-R50, 16 frames, Something-Something V2 (videos): tsm_r50_16f_sthv2.py plus MotionSqueeze
# after layer2.
_base_ = ['./tsm_r50_16f_sthv2.py']

model = dict(type='MSNet', motion=dict(type='MotionSqueeze', in_channels=512))
