# TSM-R18 on the synthetic motion dataset read as mp4 videos: the baseline of
# msnet_r18_8f_synthetic-motion-videos.py.
_base_ = ['./_base_/synthetic_motion_r18.py', './_base_/datasets/synthetic_motion_videos.py']
