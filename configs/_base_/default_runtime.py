# MMAction2's default runtime, with what a long run of this project needs turned on: checkpoints
# written atomically (a job killed while saving still resumes), the random generators' states in
# every checkpoint, and a run that stops naming the iteration whose loss is not finite (set
# `skip_nonfinite_loss = True` to skip such iterations instead). The hooks are registered by
# msnet_mmaction (custom_imports in the dataset bases).
_base_ = ['mmaction::_base_/default_runtime.py']

default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
custom_hooks = [dict(type='RandomStateHook'), dict(type='NonFiniteLossHook')]
