from .annotations import (CLASS_ORDERS, AnnotationError, FileList, hmdb51_classes,
                          hmdb51_file_lists, kinetics_classes, kinetics_file_list, save_file_list,
                          sthv1_classes, sthv1_file_list, sthv2_file_list)
from .checked import CheckedRawframeDataset, CheckedVideoDataset
from .label_map import class_ids, read_class_names, save_label_map
from .sample_errors import BadSampleError, NamedSampleErrors, name_sample_errors
from .transforms import SelectiveFlip

__all__ = [
    'AnnotationError', 'BadSampleError', 'CLASS_ORDERS', 'CheckedRawframeDataset',
    'CheckedVideoDataset', 'FileList', 'SelectiveFlip', 'class_ids', 'hmdb51_classes',
    'hmdb51_file_lists', 'kinetics_classes', 'kinetics_file_list', 'name_sample_errors',
    'NamedSampleErrors', 'read_class_names',
    'save_file_list', 'save_label_map', 'sthv1_classes', 'sthv1_file_list', 'sthv2_file_list'
]
