"""tools/convert_official_checkpoint.py on a state dict laid out like the released checkpoints."""
import os.path as osp

import pytest
import torch
from helpers import REPO, official_state_dict, python
from mmaction.registry import MODELS

from msnet_mmaction.apis import official_checkpoint as converter
from msnet_mmaction.datasets import read_class_names, save_label_map
from msnet_mmaction.errors import ActionableError

CONFIG = osp.join(REPO, 'tests', 'configs', 'msnet_tsm_r50_sthv2_switch.py')


V1_LABEL_MAP = osp.join(REPO, 'tests', 'data', 'sthv1_label_map.txt')


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_v1_rows_reordered_by_class_name(tmp_path):
    """The released V1 checkpoint's row k is the k-th sorted name; after conversion with the
    project's V1 label map (labels-file order), row j belongs to that map's j-th name."""
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'msnet.pth')
    torch.save(official_state_dict(), src)
    out = python('tools/convert_official_checkpoint.py', src, dst, '--label-map', V1_LABEL_MAP,
                 '--config', CONFIG).stdout
    assert 'classifier rows reordered' in out
    state = torch.load(dst, weights_only=True)['state_dict']
    names = read_class_names(V1_LABEL_MAP)
    released = sorted(names)
    weight, bias = state['cls_head.fc_cls.weight'], state['cls_head.fc_cls.bias']
    for j, name in enumerate(names):
        assert torch.all(weight[j] == released.index(name)), name
        assert bias[j] == 1000 + released.index(name)
    without = python('tools/convert_official_checkpoint.py', src, str(tmp_path / 'plain.pth'))
    assert 'classifier rows reordered' not in without.stdout
    plain = torch.load(str(tmp_path / 'plain.pth'), weights_only=True)['state_dict']
    assert torch.equal(plain['cls_head.fc_cls.bias'], 1000 + torch.arange(174.))


def test_reorder_with_explicit_source_order():
    state = {'cls_head.fc_cls.weight': torch.tensor([[1.], [2.], [3.]]),
             'cls_head.fc_cls.bias': torch.tensor([10., 20., 30.])}
    out = converter.reorder_classes(state, ['c', 'a', 'b'], source_classes=['b', 'c', 'a'])
    assert out['cls_head.fc_cls.bias'].tolist() == [20., 30., 10.]
    assert out['cls_head.fc_cls.weight'][:, 0].tolist() == [2., 3., 1.]


@pytest.mark.slow
def test_reorder_refuses_mismatched_labels(tmp_path):
    src = str(tmp_path / 'official.pth')
    torch.save(official_state_dict(), src)
    short = str(tmp_path / 'short.txt')
    save_label_map(read_class_names(V1_LABEL_MAP)[:-1], short)
    result = python('tools/convert_official_checkpoint.py', src, str(tmp_path / 'out.pth'),
                    '--label-map', short, check=False)
    assert result.returncode != 0 and not osp.exists(tmp_path / 'out.pth')
    assert '174 rows' in result.stderr and 'target label map 173' in result.stderr
    state = {'cls_head.fc_cls.weight': torch.zeros(2, 4), 'cls_head.fc_cls.bias': torch.zeros(2)}
    with pytest.raises(ActionableError, match="class 'Holding something' of the target"):
        converter.reorder_classes(state, ['Holding something', 'Opening something'],
                                  source_classes=['Opening something', 'Closing something'])
