# TSM-R50, 16 frames, HMDB-51 split 2: tsm_r50_16f_hmdb51-split1.py on split 2's lists.
_base_ = ['./tsm_r50_16f_hmdb51-split1.py']

train_dataloader = dict(dataset=dict(ann_file='data/hmdb51/hmdb51_train_split_2_videos.txt'))
val_dataloader = dict(dataset=dict(ann_file='data/hmdb51/hmdb51_val_split_2_videos.txt'))
test_dataloader = val_dataloader
