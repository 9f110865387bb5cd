"""Importing this module adds the correlation operator to MMEngine's default FLOP handles.

MMAction2's own ``tools/analysis_tools/get_flops.py`` builds MMEngine's ``FlopAnalyzer`` with its
default handles, which know nothing of ``msnet_mmaction::local_correlation``, and would leave the
correlation out of its total. The handles are a private table of MMEngine, so importing
``msnet_mmaction`` leaves them alone; a config that wants the upstream tool to count the
correlation imports this module, as the paper configs do::

    custom_imports = dict(imports=['msnet_mmaction', 'msnet_mmaction.analysis.mmengine_flop_table'])

This project's own counter (``tools/analysis/complexity.py``,
:func:`~msnet_mmaction.analysis.measure_complexity`) passes the handle to its analyzer instead.
"""
from mmengine.analysis import complexity_analysis

from .complexity import CORRELATION_OP, correlation_flop_jit

complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS.setdefault(CORRELATION_OP, correlation_flop_jit)
