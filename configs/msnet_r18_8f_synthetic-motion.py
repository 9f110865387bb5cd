# MSNet-R18 on the synthetic motion dataset (raw frames): tsm_r18_8f_synthetic-motion.py plus
# MotionSqueeze. At 64 px, layer2's map is 8x8 and a 4-6 px/frame motion is under one grid step;
# after layer1 (16x16, stride 4) it is 1-1.5 steps, well inside the +-7 window.
_base_ = ['./tsm_r18_8f_synthetic-motion.py']

model = dict(type='MSNet', motion=dict(type='MotionSqueeze', in_channels=64, insert_after='layer1'))
