"""docs/recipe.md against the paper configs: every row's "these configs" value is recomputed from
what each listed config builds (optimiser groups, initialised weights, pipelines, test views)."""
import copy
import fnmatch
import glob
import math
import os.path as osp
import re
from typing import Callable, Dict, List, NamedTuple

import pytest
import torch
import torch.nn as nn
from helpers import REPO
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

DOC = osp.join(REPO, 'docs', 'recipe.md')
CONFIGS = sorted(osp.basename(c) for c in glob.glob(osp.join(REPO, 'configs', '*_r50_*.py')))
BACKBONE_CONV = 0.0125  # the value every conv weight of the fake ImageNet checkpoint holds


class Section(NamedTuple):
    title: str
    patterns: List[str]
    rows: Dict[str, str]  # setting -> "these configs"


def read_sections() -> List[Section]:
    with open(DOC) as f:
        text = f.read()
    sections = []
    for block in re.split(r'^## ', text, flags=re.M)[1:]:
        title = block.splitlines()[0].strip()
        configs = re.search(r'^Configs: (.+)$', block, flags=re.M)
        assert configs, f'section {title!r} names no configs'
        lines = [line for line in block.splitlines() if line.startswith('|')]
        header = [cell.strip() for cell in lines[0].strip('|').split('|')]
        rows = {}
        for line in lines[2:]:
            cells = dict(zip(header, (cell.strip() for cell in line.strip('|').split('|'))))
            rows[cells['setting']] = cells['these configs']
        sections.append(Section(title, re.findall(r'`([^`]+)`', configs.group(1)), rows))
    return sections


class Built(NamedTuple):
    cfg: Config
    model: nn.Module
    groups: list  # the optimiser's param groups
    base_lr: float


def imagenet_style_checkpoint(path: str) -> None:
    """A torchvision ResNet-50 state dict (torchvision's key names) with every conv weight set to
    ``BACKBONE_CONV``, made from MMAction2's own ResNet-50 so that no download is needed."""
    resnet = MODELS.build(dict(type='ResNet', depth=50, pretrained=None))
    state = {}
    for key, value in resnet.state_dict().items():
        key = re.sub(r'^conv1\.conv\.', 'conv1.', key)
        key = re.sub(r'^conv1\.bn\.', 'bn1.', key)
        key = re.sub(r'\.conv(\d)\.conv\.', r'.conv\1.', key)
        key = re.sub(r'\.conv(\d)\.bn\.', r'.bn\1.', key)
        key = key.replace('downsample.conv.', 'downsample.0.').replace('downsample.bn.',
                                                                        'downsample.1.')
        state[key] = torch.full_like(value, BACKBONE_CONV) if value.dim() == 4 else value
    state['fc.weight'], state['fc.bias'] = torch.zeros(1000, 2048), torch.zeros(1000)
    torch.save(state, path)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp('imagenet') / 'resnet50.pth')
    imagenet_style_checkpoint(path)
    return path


def build(config: str, checkpoint: str) -> Built:
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.pretrained = checkpoint
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    first = next(m for m in model.backbone.modules() if isinstance(m, nn.Conv2d))
    assert torch.all(first.weight == BACKBONE_CONV), 'the checkpoint did not fill the backbone'
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return Built(cfg, model, wrapper.optimizer.param_groups, cfg.optim_wrapper.optimizer.lr)


def _number(value: float) -> str:
    """0.0005 -> '5e-4', 0.01 -> '0.01'."""
    if value >= 1e-3:
        return f'{value:g}'
    mantissa, exponent = f'{value:.0e}'.split('e')
    return f'{mantissa}e{int(exponent)}'


def _group_of(built: Built, param: torch.Tensor) -> dict:
    return next(g for g in built.groups if any(p is param for p in g['params']))


def backbone_start(b: Built) -> str:
    if b.cfg.get('load_from') and 'kinetics400' in b.cfg.load_from:
        return 'Kinetics-400 checkpoint'
    if b.cfg.model.backbone.pretrained == 'torchvision://resnet50':
        return 'ImageNet ResNet-50'
    return f'{b.cfg.model.backbone.pretrained}'


def optimiser(b: Built) -> str:
    group = b.groups[0]
    nesterov = 'Nesterov' if group['nesterov'] else 'no Nesterov'
    return f'{b.cfg.optim_wrapper.optimizer.type}, momentum {group["momentum"]:g}, {nesterov}'


def learning_rate(b: Built) -> str:
    batch = b.cfg.auto_scale_lr.base_batch_size
    assert batch == 8 * b.cfg.train_dataloader.batch_size, 'lr is for 8 GPUs x the batch'
    return f'{_number(b.base_lr)} for {batch} clips'


def schedule(b: Built) -> str:
    (step, ) = [s for s in b.cfg.param_scheduler if s.type == 'MultiStepLR']
    return (f'x{step.gamma:g} at epochs {", ".join(map(str, step.milestones))}; '
            f'{b.cfg.train_cfg.max_epochs} epochs')


def weight_decay(b: Built) -> str:
    return _number(_group_of(b, b.model.cls_head.fc_cls.weight)['weight_decay'])


def classifier_lr(b: Built) -> str:
    fc = b.model.cls_head.fc_cls
    ratios = [_group_of(b, p)['lr'] / b.base_lr for p in (fc.weight, fc.bias)]
    return ' / '.join(f'x{r:g}' for r in ratios)


def decay_on_biases_and_norms(b: Built) -> str:
    params = [m.bias for m in b.model.modules() if getattr(m, 'bias', None) is not None]
    params += [m.weight for m in b.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    return f'{max(_group_of(b, p)["weight_decay"] for p in params):g}'


def clipping(b: Built) -> str:
    clip = b.cfg.optim_wrapper.clip_grad
    return f'L{clip.norm_type} norm {clip.max_norm:g}'


def dropout(b: Built) -> str:
    return f'{b.model.cls_head.dropout.p:g}'


def partial_bn(b: Built) -> str:
    backbone = b.model.backbone
    frozen = backbone.norm_eval or getattr(backbone, 'partial_bn', False)
    b.model.train()
    trains = all(m.training for m in backbone.modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm))
    return 'off' if trains and not frozen else 'on'


def classifier_init(b: Built) -> str:
    weight, bias = b.model.cls_head.fc_cls.weight, b.model.cls_head.fc_cls.bias
    bound = math.sqrt(6 / sum(weight.shape))
    uniform = (weight.abs().max() <= bound and weight.abs().max() > 0.95 * bound
               and abs(weight.std() / (bound / math.sqrt(3)) - 1) < 0.05)
    if uniform and torch.all(bias == 0):
        return 'Xavier-uniform, zero bias'
    return f'std {weight.std():.3g}, bias std {bias.std():.3g}'


def motion_init(b: Built) -> str:
    modules = getattr(b.model.backbone, 'motion_modules', None)
    if not modules:
        return None
    for m in modules.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.weight.shape[0] * m.weight[0, 0].numel()
            ratio = m.weight.std().item() / math.sqrt(2 / fan_out)
            if abs(ratio - 1) > 0.15 or abs(m.weight.mean()) > 0.2 * m.weight.std():
                return f'conv {tuple(m.weight.shape)} std {m.weight.std():.3g}'
        if isinstance(m, nn.BatchNorm2d) and not (torch.all(m.weight == 1)
                                                  and torch.all(m.bias == 0)):
            return 'BN not 1 / 0'
    return 'Kaiming-normal (fan_out) convs, BN 1 / 0'


def train_crop(b: Built) -> str:
    (crop, ) = [t for t in b.cfg.train_dataloader.dataset.pipeline if t.type == 'MultiScaleCrop']
    return f'multi-scale crop ({", ".join(f"{s:g}" for s in crop.scales)}) to {crop.input_size}'


def horizontal_flip(b: Built) -> str:
    flips = [t for t in b.cfg.train_dataloader.dataset.pipeline if 'Flip' in t.type]
    if not flips:
        return 'none'
    (flip, ) = flips
    if flip.type == 'Flip' and flip.flip_ratio == 0.5 and not flip.get('flip_label_map'):
        return 'all classes'
    if flip.type == 'SelectiveFlip' and not flip.get('keep_labels'):
        kept = set(flip.keep_classes)
        named = all(re.search(r'(left|right)( while| to)', name) for name in kept)
        if named and len(kept) == len(flip.keep_classes):
            return f'all but the {len(kept)} direction classes, by name'
    return str(flip)


def views_at_test(b: Built) -> str:
    pipeline = b.cfg.test_dataloader.dataset.pipeline
    sampler = next(t for t in pipeline if 'SampleFrames' in t.type)
    clips = sampler.get('num_sample_positions', 1) if sampler.type == 'DenseSampleFrames' else 1
    crops = [t for t in pipeline if t.type in ('CenterCrop', 'ThreeCrop')]
    (crop, ) = crops
    if crop.type == 'CenterCrop':
        return f'{clips} clip{"s" * (clips > 1)}, centre crop {crop.crop_size}'
    return f'{clips} clip{"s" * (clips > 1)} x 3 crops {crop.crop_size}'


def averaging_at_test(b: Built) -> str:
    return {'score': 'raw scores', 'prob': 'softmax probabilities'}.get(
        b.model.cls_head.average_clips, str(b.model.cls_head.average_clips))


CHECKS: Dict[str, Callable[[Built], str]] = {
    'backbone start': backbone_start,
    'optimiser': optimiser,
    'learning rate': learning_rate,
    'schedule': schedule,
    'weight decay': weight_decay,
    'classifier lr (weight / bias)': classifier_lr,
    'weight decay on biases and norms': decay_on_biases_and_norms,
    'gradient clipping': clipping,
    'dropout': dropout,
    'partial BN': partial_bn,
    'classifier init': classifier_init,
    'MotionSqueeze init': motion_init,
    'train crop': train_crop,
    'horizontal flip': horizontal_flip,
    'test views': views_at_test,
    'test averaging': averaging_at_test,
}


def test_every_paper_config_is_in_one_section():
    sections = read_sections()
    for config in CONFIGS:
        owners = [s.title for s in sections if any(fnmatch.fnmatch(config, p) for p in s.patterns)]
        assert len(owners) == 1, f'{config} is in sections {owners}'
    for section in sections:
        assert set(section.rows) == set(CHECKS), section.title


@pytest.mark.parametrize('config', CONFIGS)
def test_config_builds_what_the_recipe_table_states(config, checkpoint):
    (section, ) = [s for s in read_sections() if any(fnmatch.fnmatch(config, p) for p in s.patterns)]
    built = build(config, checkpoint)
    for setting, check in CHECKS.items():
        value = check(built)
        if value is not None:
            assert value == section.rows[setting], f'{config}: {setting}'


@pytest.mark.parametrize('document', ['README.md', osp.join('configs', 'README.md')])
def test_every_published_number_is_quoted(document):
    """MSNet-R50's published top-1 / top-5 (the paper's tables), each in the results table."""
    with open(osp.join(REPO, document)) as f:
        text = f.read()
    published = ['50.9 / 80.3', '52.1 / 82.3', '54.4 / 83.8', '63.0 / 88.4', '64.7 / 89.4',
                 '66.6 / 90.6', '76.4 / –', '77.4 / –']
    missing = [number for number in published if f'| {number} |' not in text]
    assert not missing, f'{document} lacks {missing}'
    assert 'not published' not in text
