"""The compiled CPU kernels and their binding: the library is built and used, its signature table
matches the C prototypes, its errors carry their message, the correlation kernel agrees with the
PyTorch path and is deterministic, builds are cached per source and machine, and a failed build
falls back (the soft-argmax kernel's values are tested in test_kernel_soft_argmax.py)."""
import ctypes
import os
import platform
import re
import shutil
import stat
import sys
import zipfile
import pytest
import torch
import torch.nn.functional as F
from helpers import REPO, run, values_and_grads

from msnet_mmaction.analysis import correlation_unfold
from msnet_mmaction.models import MotionSqueeze
from msnet_mmaction.ops import (CPU_KERNEL, KERNELS_ENV, REFERENCE, cpu_library, kernel_soft_argmax,
                                kernel_soft_argmax_path, local_correlation, local_correlation_path)
from msnet_mmaction.ops.cpu_library import SIGNATURES, tensor_args
from msnet_mmaction.ops.kernel_soft_argmax_reference import LOGIT_RANGE


def correlation(a, b, d=7, implementation='auto'):
    """The correlation's values and its inputs' gradients against a seeded probe."""
    return values_and_grads(lambda x, y: local_correlation(x, y, d, implementation=implementation),
                            a, b)


FORWARD, BACKWARD = 'msnet_local_correlation_forward_f32', 'msnet_local_correlation_backward_f32'


@pytest.fixture
def kernel_calls(monkeypatch) -> list:
    """The calls that reach the compiled library, as (C function, arguments)."""
    calls = []
    original = cpu_library.CpuLibrary.call

    def recorded(self, name, *args):
        calls.append((name, args))
        return original(self, name, *args)
    monkeypatch.setattr(cpu_library.CpuLibrary, 'call', recorded)
    return calls


def kernel_backward(a, b, grad, grad_a, grad_b, d):
    """The compiled correlation backward, called through the binding: ``grad`` (N, H, W, P * P)
    contiguous, the input gradients written in whatever layout they are given (or None)."""
    cpu_library.cpu_library().call(f'msnet_local_correlation_backward_{cpu_library.DTYPE_SUFFIXES[a.dtype]}',
                                   *tensor_args(a), *tensor_args(b), grad.data_ptr(),
                                   *tensor_args(grad_a), *tensor_args(grad_b), *a.shape, d,
                                   torch.get_num_threads())


def test_kernel_builds_on_this_machine_and_runs_for_cpu_float_inputs(kernel_calls):
    library = cpu_library.cpu_library()
    assert library is not None, 'no compiled kernels here; CI needs a C++ compiler'
    assert library.path.is_file()
    a = torch.randn(2, 8, 6, 7, requires_grad=True)
    assert local_correlation_path(a, a, 2, 1).kernel == CPU_KERNEL
    local_correlation(a, a, 2).sum().backward()
    assert [name for name, _ in kernel_calls] == [FORWARD, BACKWARD]
    assert kernel_calls[0][1][5:9] == (2, 8, 6, 7)  # N, C, H, W after the pointers and strides
    path = local_correlation_path(a, a, 2, 2)
    assert path.kernel == REFERENCE and 'dilation 1' in path.reason
    local_correlation(a, a, 2, 2).sum().backward()
    local_correlation(a, a, 2, implementation='reference').sum().backward()
    assert len(kernel_calls) == 2, 'the kernel ran for dilation 2 or for the reference'
    with torch.no_grad():
        traced = torch.jit.trace(lambda x: local_correlation(x, x, 2), a.detach())
    # The trace (the complexity counter's view) holds the operator, which runs the kernel.
    assert 'msnet_mmaction::local_correlation' in str(traced.graph)
    assert kernel_calls[-1][0] == FORWARD


def c_prototypes() -> dict:
    """{function: (return type, [argument types])} of the ``msnet_`` functions defined after
    ``extern "C" {`` in each source of csrc/, with the types as C spells them (``const float*``)."""
    prototypes = {}
    for source in cpu_library.sources():
        text = re.sub(r'//[^\n]*', '', source.read_text())
        if 'extern "C" {' not in text:
            continue
        c_part = text.split('extern "C" {', 1)[1]
        for result, name, params in re.findall(
                r'^((?:const )?\w+ ?\**) ?(msnet_\w+)\(([^)]*)\)\s*\{', c_part, re.M):
            types = []
            for param in filter(None, (p.strip() for p in params.split(','))):
                declaration = param.rsplit(None, 1)[0] + '*' * param.rsplit(None, 1)[1].count('*')
                types.append(' '.join(declaration.split()).replace(' *', '*'))
            prototypes[name] = (result.strip().replace(' *', '*'), types)
    return prototypes


C_TYPES = {'int': ctypes.c_int, 'int64_t': ctypes.c_int64, 'float': ctypes.c_float,
           'double': ctypes.c_double, 'const char*': ctypes.c_char_p, 'void': None}


def as_ctype(c_type: str):
    c_type = c_type.replace(' *', '*').strip()
    if c_type.endswith('*') and c_type != 'const char*':
        return ctypes.c_void_p
    return C_TYPES[c_type]


def test_the_signature_table_matches_the_c_prototypes():
    """ctypes trusts its argument lists: one that disagrees with the C function corrupts memory
    without an error. Every ``extern "C"`` function has its row, and every row its function."""
    prototypes = c_prototypes()
    assert set(prototypes) == set(SIGNATURES)
    assert len(prototypes) == 7
    for name, (result, arguments) in prototypes.items():
        restype, argtypes = SIGNATURES[name]
        assert as_ctype(result) == restype, name
        assert [as_ctype(t) for t in arguments] == list(argtypes), name
    assert prototypes['msnet_kernel_soft_argmax_forward_f32'][1][:2] == ['const float*', 'float*']


def test_kernel_errors_carry_their_message():
    a = torch.randn(1, 2, 3, 3)
    out = a.new_empty(1, 3, 3, 9)
    library = cpu_library.cpu_library()
    with pytest.raises(RuntimeError, match='maximum displacement must be >= 0.*'
                       f'{KERNELS_ENV}=0'):
        library.call(FORWARD, *tensor_args(a), *tensor_args(a), out.data_ptr(), 1, 2, 3, 3, -1, 1)
    scores = torch.randn(1, 3, 3, 9)
    u_v, confidence = scores.new_empty(1, 3, 3, 2), scores.new_empty(1, 3, 3)
    with pytest.raises(RuntimeError, match='sigma and temperature must be > 0'):
        library.call('msnet_kernel_soft_argmax_forward_f32', scores.data_ptr(), u_v.data_ptr(),
                     confidence.data_ptr(), 1, 3, 3, 1, 0.0, 100.0, LOGIT_RANGE, 1)
    # The status of a good call after a failed one is 0: the message is not sticky.
    library.call(FORWARD, *tensor_args(a), *tensor_args(a), out.data_ptr(), 1, 2, 3, 3, 1, 1)


def test_backward_computes_only_the_gradients_autograd_asks_for(kernel_calls):
    """With one input frozen, the compiled backward gets a null pointer for its gradient."""
    torch.manual_seed(6)
    a, b = torch.randn(2, 8, 5, 6, requires_grad=True), torch.randn(2, 8, 5, 6)
    local_correlation(a, b, 2).square().sum().backward()
    (_, forward), (_, backward) = kernel_calls
    grad_a_pointer, grad_b_pointer = backward[5], backward[7]
    assert grad_a_pointer is not None and grad_b_pointer is None
    x = a.detach().clone().requires_grad_()
    expected, = torch.autograd.grad(
        local_correlation(x, b, 2, implementation='reference').square().sum(), x)
    torch.testing.assert_close(a.grad, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize('layout', ['contiguous', 'channels_last', 'strided'])
def test_matches_the_reference_at_msnet_r50_shapes(layout):
    torch.manual_seed(0)
    a, b = torch.randn(2, 64, 28, 28), torch.randn(2, 64, 28, 28)
    if layout == 'channels_last':
        a, b = (x.contiguous(memory_format=torch.channels_last) for x in (a, b))
    elif layout == 'strided':  # every other image of a channels-last batch, like a clip's pairs
        a, b = (torch.cat((x, x)).contiguous(memory_format=torch.channels_last)[::2] for x in (a, b))
        assert not a.is_contiguous() and not a.is_contiguous(memory_format=torch.channels_last)
    compiled = correlation(a, b)
    plain = correlation(a, b, implementation='reference')
    for ours, reference in zip(compiled, plain):
        torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-4)
    assert compiled[0].is_contiguous(memory_format=torch.channels_last)
    if layout != 'strided':  # autograd keeps a gradient laid out like its input
        assert compiled[1].stride() == a.stride() and compiled[2].stride() == b.stride()


def test_input_gradients_are_written_in_the_layout_they_are_given():
    """NCHW (autograd's layout for NCHW inputs), channels-last, and any other strides: the same
    values, matching the PyTorch path."""
    torch.manual_seed(5)
    a, b = torch.randn(3, 20, 9, 21), torch.randn(3, 20, 9, 21)
    grad = torch.randn(3, 9, 21, 49)
    x, y = a.clone().requires_grad_(), b.clone().requires_grad_()
    expected = torch.autograd.grad(local_correlation(x, y, 3, implementation='reference'), (x, y),
                                   grad.permute(0, 3, 1, 2))
    layouts = {'nchw': lambda: torch.empty(3, 20, 9, 21),
               'channels_last': lambda: torch.empty(3, 20, 9, 21,
                                                    memory_format=torch.channels_last),
               'rows_apart': lambda: torch.empty(3, 9, 20, 21).transpose(1, 2),
               'reversed': lambda: torch.empty(21, 9, 20, 3).permute(3, 2, 1, 0)}
    first = None
    for layout, make in layouts.items():
        grads = make(), make()
        kernel_backward(a, b, grad, *grads, 3)
        for ours, reference in zip(grads, expected):
            torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-4, msg=layout)
        first = first or grads
        for ours, reference in zip(grads, first):
            assert torch.equal(ours, reference), layout


def test_float64_agrees_to_rounding_and_channels_need_not_fill_a_vector():
    torch.manual_seed(1)
    a, b = torch.randn(3, 70, 9, 13, dtype=torch.float64), torch.randn(3, 70, 9, 13, dtype=torch.float64)
    for ours, reference in zip(correlation(a, b, 4), correlation(a, b, 4, 'reference')):
        torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('shape, d', [((2, 3, 1, 1), 7), ((1, 5, 2, 3), 7), ((3, 17, 5, 33), 2),
                                      ((1, 9, 6, 17), 5)])
def test_maps_smaller_than_a_tile_or_the_window_match_unfold(shape, d, kernel_calls):
    """Heights below the forward tile's 4 rows, widths off the vector length, windows wider than
    the map: values and gradients agree with the independent unfold formulation."""
    torch.manual_seed(3)
    a, b = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
    reference = values_and_grads(lambda x, y: correlation_unfold(x, y, d), a, b)
    ours = correlation(a, b, d)
    assert [name for name, _ in kernel_calls] == [FORWARD.replace('f32', 'f64'),
                                                  BACKWARD.replace('f32', 'f64')]
    for ours, expected in zip(ours, reference):
        torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)


def test_results_do_not_depend_on_the_number_of_threads_or_their_pool():
    library = cpu_library.cpu_library()
    if torch.backends.openmp.is_available():
        assert library.openmp is not None and library.openmp == cpu_library.openmp_runtime()
    torch.manual_seed(2)
    a, b = torch.randn(5, 16, 12, 12), torch.randn(5, 16, 12, 12)
    threads, runtime = torch.get_num_threads(), library.openmp
    runs = []
    try:
        for pool in (runtime, None):  # PyTorch's OpenMP threads, then std::thread
            library.use_openmp(pool)
            for count in (1, 3):
                torch.set_num_threads(count)
                runs.append(correlation(a, b, 3))
    finally:
        torch.set_num_threads(threads)
        library.use_openmp(runtime)
    for results in runs[1:]:
        for first, other in zip(runs[0], results):
            assert torch.equal(first, other)


def test_motion_squeeze_gives_the_same_maps_and_gradients_with_either_path(monkeypatch):
    torch.manual_seed(3)
    module = MotionSqueeze(in_channels=32, num_segments=4, reduced_channels=16).eval()
    x = torch.randn(8, 32, 14, 14)
    results = []
    for enabled in ('1', '0'):
        monkeypatch.setenv(KERNELS_ENV, enabled)
        inputs = x.clone().requires_grad_()
        out, maps = module(inputs, return_maps=True)
        out.square().sum().backward()
        results.append((out.detach(), maps.displacement, maps.confidence, inputs.grad))
    for ours, reference in zip(*results):
        torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4)


def test_switched_off_by_the_environment(monkeypatch, kernel_calls):
    monkeypatch.setenv(KERNELS_ENV, '0')
    assert cpu_library.cpu_library() is None
    a = torch.randn(1, 4, 5, 5, requires_grad=True)
    for path in (local_correlation_path(a, a, 1, 1), kernel_soft_argmax_path(a)):
        assert path == (REFERENCE, torch.float32, f'{KERNELS_ENV}=0')
    local_correlation(a, a, 1).sum().backward()
    assert kernel_calls == []


@pytest.mark.slow
def test_one_build_per_source_and_machine(tmp_path, monkeypatch):
    compiler = cpu_library._compiler()
    first = cpu_library.build(compiler, tmp_path)
    built_at = first.stat().st_mtime_ns
    assert cpu_library.build(compiler, tmp_path) == first
    assert first.stat().st_mtime_ns == built_at, 'an identical build was compiled again'
    changed = tmp_path / 'csrc'
    shutil.copytree(cpu_library.CSRC, changed)
    with open(changed / 'kernel_common.h', 'a') as header:
        header.write('\n// changed\n')
    monkeypatch.setattr(cpu_library, 'CSRC', changed)
    second = cpu_library.build(compiler, tmp_path)
    assert second != first and second.is_file()
    monkeypatch.setattr(cpu_library, '_cpu_signature', lambda: 'flags : another cpu')
    assert cpu_library.build(compiler, tmp_path) not in (first, second)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith('.')) == []


def test_a_failed_build_warns_and_falls_back_to_the_reference(tmp_path, monkeypatch):
    failing = tmp_path / 'broken-c++'
    failing.write_text('#!/bin/sh\n[ "$1" = --version ] && exit 0\necho "boom: no such header" >&2\n'
                       'exit 1\n')
    failing.chmod(failing.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv('CXX', str(failing))
    monkeypatch.setenv(cpu_library.CACHE_ENV, str(tmp_path / 'cache'))
    a = torch.randn(1, 4, 6, 6, dtype=torch.float64, requires_grad=True)
    with pytest.warns(UserWarning, match='(?s)unavailable.*boom: no such header'):
        out = local_correlation(a, a, 2)
    assert local_correlation_path(a, a, 2, 1).kernel == REFERENCE
    torch.testing.assert_close(out, local_correlation(a, a, 2, implementation='reference'))
    assert [p.name for p in (tmp_path / 'cache').iterdir()] == []


def test_the_wheel_ships_the_kernel_sources(tmp_path):
    """A regular (non-editable) install must carry csrc/, or every user silently gets the fallback."""
    source = tmp_path / 'src'
    source.mkdir()
    for name in ('setup.cfg', 'pyproject.toml', 'README.md', 'LICENSE'):
        shutil.copy(os.path.join(REPO, name), source / name)
    shutil.copytree(os.path.join(REPO, 'msnet_mmaction'), source / 'msnet_mmaction',
                    ignore=shutil.ignore_patterns('__pycache__'))
    run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q',
         '-w', str(tmp_path / 'dist'), str(source)])
    wheel, = (tmp_path / 'dist').glob('msnet_mmaction-*.whl')
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name: archive.read(name) for name in archive.namelist() if '/csrc/' in name}
    assert shipped == {f'msnet_mmaction/ops/csrc/{p.name}': p.read_bytes()
                       for p in cpu_library.sources()}
    assert len(shipped) >= 3  # the kernel, parallel.cpp and the shared header


@pytest.mark.skipif(platform.machine() != 'x86_64', reason='x86-64 instruction-set levels')
def test_the_build_without_avx512_agrees(tmp_path, monkeypatch):
    """Machines without AVX-512 compile the portable load and store paths; they must give the same
    results."""
    flags = tuple('-march=x86-64-v3' if f == '-march=native' else f for f in cpu_library.FLAGS)
    monkeypatch.setattr(cpu_library, 'FLAGS', flags)
    library = cpu_library.CpuLibrary(cpu_library.build(cpu_library._compiler(), tmp_path))
    monkeypatch.setattr(cpu_library, 'cpu_library', lambda: library)
    torch.manual_seed(4)
    for dtype in (torch.float32, torch.float64):
        a, b = torch.randn(2, 20, 7, 9, dtype=dtype), torch.randn(2, 20, 7, 9, dtype=dtype)
        expected = correlation(a, b, 3, implementation='reference')
        out = a.new_empty(2, 7, 9, 49)
        suffix = cpu_library.DTYPE_SUFFIXES[dtype]
        library.call(f'msnet_local_correlation_forward_{suffix}', *tensor_args(a),
                     *tensor_args(b), out.data_ptr(), 2, 20, 7, 9, 3, 2)
        weights = torch.randn((2, 49, 7, 9), generator=torch.Generator().manual_seed(0),
                              dtype=torch.float64).to(dtype)
        grad_a, grad_b = torch.empty_like(a), torch.empty_like(b)
        kernel_backward(a, b, weights.permute(0, 2, 3, 1).contiguous(), grad_a, grad_b, 3)
        got = (out.permute(0, 3, 1, 2), grad_a, grad_b)
        for ours, reference in zip(got, expected):
            torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-4)
    # The soft-argmax, over rows of 7 and (d = 9) of 19 offsets: masked loads and selects.
    for d in (3, 9):
        volume = local_correlation(*F.normalize(torch.randn(2, 2, 8, 6, 5), dim=2), d)
        scores = volume.permute(0, 2, 3, 1).contiguous()
        u_v, confidence = scores.new_empty(2, 6, 5, 2), scores.new_empty(2, 6, 5)
        library.call('msnet_kernel_soft_argmax_forward_f32', scores.data_ptr(), u_v.data_ptr(),
                     confidence.data_ptr(), 2, 6, 5, d, 5.0, 100.0, LOGIT_RANGE, 2)
        u_v, confidence = u_v.permute(0, 3, 1, 2), confidence.unsqueeze(1)
        expected_u_v, expected_confidence = kernel_soft_argmax(volume, d,
                                                               implementation='reference')
        torch.testing.assert_close(u_v, expected_u_v, rtol=0, atol=1e-6)
        assert torch.equal(confidence, expected_confidence)
