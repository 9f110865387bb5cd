# TSM-R50, 16 frames, HMDB-51 split 3: tsm_r50_16f_hmdb51-split1.py on split 3's lists.
_base_ = ['./tsm_r50_16f_hmdb51-split1.py']

train_dataloader = dict(dataset=dict(ann_file='data/hmdb51/hmdb51_train_split_3_videos.txt'))
val_dataloader = dict(dataset=dict(ann_file='data/hmdb51/hmdb51_val_split_3_videos.txt'))
test_dataloader = val_dataloader
