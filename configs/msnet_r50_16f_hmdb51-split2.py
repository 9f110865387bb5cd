# MSNet-R50, 16 frames, HMDB-51 split 2: tsm_r50_16f_hmdb51-split2.py plus MotionSqueeze,
# fine-tuned from a Kinetics-400 checkpoint of msnet_r50_16f_kinetics400.py.
_base_ = ['./tsm_r50_16f_hmdb51-split2.py']

model = dict(type='MSNet', motion=dict(type='MotionSqueeze', in_channels=512))
load_from = 'checkpoints/msnet_r50_16f_kinetics400.pth'
