from .flow import flow_legend, flow_to_color
from .motion import (MotionVisualization, count_frames, estimate_motion, load_frames, render_pairs,
                     visualize_video, warp_back)

__all__ = [
    'MotionVisualization', 'count_frames', 'estimate_motion', 'flow_legend', 'flow_to_color',
    'load_frames', 'render_pairs', 'visualize_video', 'warp_back'
]
