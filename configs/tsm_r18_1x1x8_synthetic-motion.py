# TSM-R18 baseline on the synthetic motion dataset: identical to its MSNet twin but for the module.
_base_ = ['./_base_/tsm_r18_synthetic_motion.py']
