# TSM-R50, 16 frames, HMDB-51 split 1, fine-tuned from a Kinetics-400 checkpoint of
# tsm_r50_16f_kinetics400.py (pass another with --cfg-options load_from=PATH).
_base_ = [
    './_base_/models/tsm_r50_released.py', './_base_/default_runtime.py',
    './_base_/datasets/hmdb51_videos.py', './_base_/schedules/sgd_hmdb51_25e.py'
]

# Tested like the Kinetics-400 model it starts from: raw scores averaged over the 3 crops.
model = dict(
    backbone=dict(num_segments=16),
    cls_head=dict(num_classes=51, num_segments=16, average_clips='score'))
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='auto'))
load_from = 'checkpoints/tsm_r50_16f_kinetics400.pth'
