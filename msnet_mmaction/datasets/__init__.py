from .annotations import (AnnotationError, FileList, hmdb51_file_lists, kinetics_classes,
                          kinetics_file_list, save_file_list, sthv1_file_list, sthv2_file_list)
from ..compat.sample_errors import BadSampleError
from .checked import CheckedRawframeDataset, CheckedVideoDataset
from .transforms import SelectiveFlip

__all__ = [
    'AnnotationError', 'BadSampleError', 'CheckedRawframeDataset', 'CheckedVideoDataset',
    'FileList', 'SelectiveFlip', 'hmdb51_file_lists', 'kinetics_classes', 'kinetics_file_list',
    'save_file_list', 'sthv1_file_list', 'sthv2_file_list'
]
