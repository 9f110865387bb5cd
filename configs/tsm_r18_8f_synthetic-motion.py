# TSM-R18 on the synthetic motion dataset (raw frames): the baseline of
# msnet_r18_8f_synthetic-motion.py.
_base_ = [
    './_base_/synthetic_motion_r18.py', './_base_/datasets/synthetic_motion_rawframes.py'
]
