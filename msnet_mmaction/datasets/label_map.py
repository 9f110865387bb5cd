"""Class names in id order: read from a dataset's labels file or label map, written next to lists.

A label map (``label_map.txt``, which MMAction2's demos also read) holds one class name per line;
line ``i`` (from 0) names class ``i``. Something-Something V1's ``something-something-v1-labels.csv``
has the same layout. Something-Something V2's ``something-something-v2-labels.json`` maps each name
to its id instead. Behaviour that depends on a class (which clips may be mirrored, which classifier
row belongs to which class) keys on these names, because ids depend on how a list was built.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence


def read_class_names(path: str) -> List[str]:
    """The class names of a label map, labels file or ``{name: id}`` JSON, in id order.

    Args:
        path (str): ``label_map.txt`` (one name per line), ``something-something-v1-labels.csv``
            (the same) or ``something-something-v2-labels.json`` (``{name: "id"}``).

    Returns:
        list[str]: Name of class 0, 1, ...

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: Duplicate names, or JSON ids that are not 0..K-1.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist (label_map.txt is written next to the '
                                'annotation lists by the list builders in tools/data/)')
    with open(path, encoding='utf-8') as f:
        if path.endswith('.json'):
            ids = {name: int(index) for name, index in json.load(f).items()}
            names = sorted(ids, key=ids.get)
            if sorted(ids.values()) != list(range(len(ids))):
                raise ValueError(f'{path}: class ids must be 0..{len(ids) - 1}')
        else:
            names = [line.strip() for line in f if line.strip()]
    if len(set(names)) != len(names):
        duplicate = next(name for name in names if names.count(name) > 1)
        raise ValueError(f'{path}: class {duplicate!r} is listed more than once')
    return names


def class_ids(names: Sequence[str], path: str) -> List[int]:
    """The ids of ``names`` in the label map at ``path``.

    Raises:
        KeyError: A name the label map lacks, naming the file.
    """
    index: Dict[str, int] = {name: i for i, name in enumerate(read_class_names(path))}
    for name in names:
        if name not in index:
            raise KeyError(f'class {name!r} is not in the label map {path}')
    return [index[name] for name in names]


def save_label_map(names: Sequence[str], path: str) -> None:
    """Write ``names`` (in id order) to ``path``, one per line."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.writelines(f'{name}\n' for name in names)
    print(f'{path}: {len(names)} classes')
