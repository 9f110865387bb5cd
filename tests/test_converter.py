"""tools/convert_official_checkpoint.py on a state dict laid out like the released checkpoints."""
import importlib.util
import os.path as osp
import re

import torch
from helpers import REPO, python
from mmaction.registry import MODELS

spec = importlib.util.spec_from_file_location(
    'convert_official_checkpoint', osp.join(REPO, 'tools', 'convert_official_checkpoint.py'))
converter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(converter)

CONFIG = osp.join(REPO, 'tests', 'configs', 'msnet_tsm_r50_sthv2_switch.py')
NUM_CLASSES = 174


def official_state_dict():
    """Random tensors with the released key names and shapes, as DataParallel saved them."""
    torch.manual_seed(0)
    state = {}
    with open(osp.join(REPO, 'tests', 'data', 'official_msnet_r50_state_dict.txt')) as f:
        for line in f:
            if line.startswith('#'):
                continue
            name, shape = line.rstrip('\n').split('\t')
            size = tuple(int(s) for s in re.findall(r'\d+', shape))
            dtype = torch.int64 if name.endswith('num_batches_tracked') else torch.float32
            value = torch.randint(0, 100, size) if dtype == torch.int64 else torch.randn(size)
            state[f'module.base_model.{name}'] = value
    state['module.new_fc.weight'] = torch.randn(NUM_CLASSES, 2048, 1)
    state['module.new_fc.bias'] = torch.randn(NUM_CLASSES)
    return state


def test_round_trip_places_every_tensor(tmp_path):
    source = official_state_dict()
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'msnet.pth')
    torch.save(dict(state_dict=source), src)
    out = python('tools/convert_official_checkpoint.py', src, dst, '--config', CONFIG).stdout
    assert 'dropped 5 keys' in out and 'bn2.weight' in out
    converted = torch.load(dst, weights_only=True)['state_dict']
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.update(pretrained=None, pretrained2d=False)
    model = MODELS.build(cfg.model)
    model.load_state_dict(converted, strict=True)
    params = dict(model.state_dict())
    pick = lambda key: source[f'module.base_model.{key}']  # noqa: E731
    torch.testing.assert_close(params['backbone.conv1.conv.weight'], pick('conv1.weight'))
    torch.testing.assert_close(params['backbone.layer3.4.conv1.conv.net.weight'], pick('layer3.4.conv1.weight'))
    torch.testing.assert_close(params['backbone.layer4.0.conv3.bn.running_var'], pick('layer4.0.bn3.running_var'))
    torch.testing.assert_close(params['backbone.layer2.0.downsample.bn.bias'], pick('layer2.0.downsample.1.bias'))
    motion = 'backbone.motion_modules.0'
    torch.testing.assert_close(params[f'{motion}.reduction.0.weight'], pick('chnl_reduction.0.weight'))
    torch.testing.assert_close(params[f'{motion}.transform.0.0.weight'], pick('flow_refinement.conv1.0.weight'))
    torch.testing.assert_close(params[f'{motion}.transform.3.4.weight'], pick('flow_refinement.conv4.4.weight'))
    torch.testing.assert_close(params['cls_head.fc_cls.weight'], source['module.new_fc.weight'][..., 0])
    used = len(source) - 5
    assert len(converted) == used == len(params)


def test_unknown_keys_are_reported_not_dropped(tmp_path):
    source = official_state_dict()
    source['module.base_model.extra_head.weight'] = torch.zeros(3)
    src = str(tmp_path / 'official.pth')
    torch.save(source, src)
    result = python('tools/convert_official_checkpoint.py', src, str(tmp_path / 'out.pth'), check=False)
    assert result.returncode != 0 and 'extra_head.weight' in result.stderr
    assert not osp.exists(tmp_path / 'out.pth')


def test_convert_key_rules():
    assert converter.convert_key('layer1.0.conv1.net.weight') == 'backbone.layer1.0.conv1.conv.net.weight'
    assert converter.convert_key('flow_refinement.conv2.3.weight') == \
        'backbone.motion_modules.0.transform.1.3.weight'
    assert converter.convert_key('fc.weight') == ''
