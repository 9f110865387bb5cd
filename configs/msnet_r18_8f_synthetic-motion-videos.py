# MSNet-R18 on the synthetic motion dataset read as mp4 videos (VideoDataset, decord):
# tsm_r18_8f_synthetic-motion-videos.py plus the module of msnet_r18_8f_synthetic-motion.py.
_base_ = ['./tsm_r18_8f_synthetic-motion-videos.py']

model = dict(
    type='MSNet',
    motion=dict(type='MotionSqueeze', in_channels=64, insert_after='layer1', output_scale=8.0,
                transform_bias=1.5))
