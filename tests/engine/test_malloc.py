"""keep_freed_memory: glibc malloc set up so that training steps reuse freed activations."""
import resource

import pytest
from helpers import python

from msnet_mmaction.engine import keep_freed_memory
from msnet_mmaction.engine.malloc import ENABLE_ENV

PAGE_FAULTS_PER_STEP = """
import resource, sys
import torch
from msnet_mmaction.engine import keep_freed_memory
applied = keep_freed_memory(sys.argv[1])
torch.manual_seed(0)
torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16),
                          torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 1))
images = torch.randn(4, 3, 512, 512)  # activations of 64 MiB: over glibc's largest mmap threshold

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    net(images).square().mean().backward()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

print(applied, *[faults() for _ in range(8)])
"""


@pytest.mark.slow
def test_keep_freed_memory_stops_refaulting_activations():
    """With glibc's defaults every training step maps its large activations afresh, one page fault
    per page; once ``keep_freed_memory`` applies, later steps reuse the pages freed before."""
    def run(device: str, env: dict) -> tuple:
        applied, *faults = python('-c', PAGE_FAULTS_PER_STEP, device, env=env).stdout.split()
        return applied == 'True', [int(f) for f in faults[-4:]]

    activation_pages = 64 * 2**20 // resource.getpagesize()
    unmanaged, default = run('cpu', {ENABLE_ENV: '0'})
    applied, kept = run('cpu', {})
    assert not unmanaged and applied and not keep_freed_memory('cuda')
    assert min(default) > 4 * activation_pages
    assert sum(kept) < min(default)
