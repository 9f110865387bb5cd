# MSNet-R50, 8 frames, Kinetics-400 (videos, dense sampling): tsm_r50_8f_kinetics400.py plus
# MotionSqueeze after layer2.
_base_ = ['./tsm_r50_8f_kinetics400.py']

model = dict(type='MSNet', motion=dict(type='MotionSqueeze', in_channels=512))
