from .inference import load_recognizer, video_test_pipeline
from .runner import (add_common_arguments, build_runner, enable_amp, enable_auto_scale_lr,
                     load_config, set_resume)

__all__ = [
    'add_common_arguments', 'build_runner', 'enable_amp', 'enable_auto_scale_lr', 'load_config',
    'load_recognizer', 'set_resume', 'video_test_pipeline'
]
