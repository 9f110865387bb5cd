from .correlation import local_correlation
from .rectified_add import add_rectified
from .soft_argmax import displacement_grid, kernel_soft_argmax

__all__ = ['local_correlation', 'kernel_soft_argmax', 'displacement_grid', 'add_rectified']
