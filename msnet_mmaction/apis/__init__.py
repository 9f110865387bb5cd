from .cli import explain_training_failure, run_tool
from .inference import build_recognizer, load_recognizer, video_test_pipeline
from .runner import (add_common_arguments, amp_dtype, build_runner, compile_test_step, enable_amp,
                     enable_auto_scale_lr, load_config, resume_checkpoint, set_resume)

__all__ = [
    'add_common_arguments', 'amp_dtype', 'build_recognizer', 'build_runner', 'compile_test_step', 'enable_amp',
    'enable_auto_scale_lr', 'explain_training_failure', 'load_config', 'load_recognizer',
    'resume_checkpoint', 'run_tool', 'set_resume', 'video_test_pipeline'
]
