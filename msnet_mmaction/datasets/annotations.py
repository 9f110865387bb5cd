"""Turn the official annotation files of each dataset into MMAction2 annotation lists.

Every reader returns the list lines in order. A malformed entry raises :class:`AnnotationError`
naming the file and line. A missing video or frame folder also raises, unless ``skip_missing`` is
set: then it is left out, and reported (file, line, path) in the returned ``skipped`` list, so
the caller can log every one of them.
"""
import csv
import json
import os
import os.path as osp
import re
import sys
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from .label_map import read_class_names


class AnnotationError(ValueError):
    """A malformed or unresolvable entry in an annotation file."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f'{path}:{line}: {message}')
        self.path = path
        self.line = line


class Skipped(NamedTuple):
    """An entry left out because its media is missing."""
    path: str
    line: int
    media: str


class FileList(NamedTuple):
    """List lines in MMAction2's format and the entries left out."""
    lines: List[str]
    skipped: List[Skipped]


def save_file_list(file_list: FileList, out_file: str) -> None:
    """Write the list lines to ``out_file`` and report every skipped entry on stderr."""
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with open(out_file, 'w') as f:
        f.writelines(f'{line}\n' for line in file_list.lines)
    for entry in file_list.skipped:
        print(f'skipped {entry.path}:{entry.line}: missing {entry.media}', file=sys.stderr)
    summary = f'{out_file}: {len(file_list.lines)} entries'
    if file_list.skipped:
        summary += f', {len(file_list.skipped)} skipped for missing media'
    print(summary)


def _read_lines(path: str) -> Iterator[Tuple[int, str]]:
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                yield number, line.rstrip('\r\n')


def _json_array(path: str) -> Iterator[Tuple[int, object]]:
    """The elements of a JSON array file, each with the line it starts on."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    decoder = json.JSONDecoder()
    space = re.compile(r'\s*')
    pos = space.match(text).end()
    if text[pos:pos + 1] != '[':
        raise AnnotationError(path, text.count('\n', 0, pos) + 1, 'expected a JSON array')
    pos = space.match(text, pos + 1).end()
    if text[pos:pos + 1] == ']':
        return
    while True:
        line = text.count('\n', 0, pos) + 1
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise AnnotationError(path, e.lineno, f'invalid JSON: {e.msg}') from None
        yield line, item
        pos = space.match(text, pos).end()
        separator = text[pos:pos + 1]
        if separator == ']':
            return
        if separator != ',':
            raise AnnotationError(path, text.count('\n', 0, pos) + 1,
                                  "expected ',' or ']' between array elements")
        pos = space.match(text, pos + 1).end()


def _missing(media: str, path: str, line: int, what: str, skip_missing: bool,
             skipped: List[Skipped]) -> None:
    if not skip_missing:
        raise AnnotationError(path, line, f'{what} {media} does not exist (pass --skip-missing '
                              'to leave such entries out)')
    skipped.append(Skipped(path, line, media))


CLASS_ORDERS = ('file', 'sorted')


def sthv1_classes(labels_file: str, class_order: str = 'file') -> List[str]:
    """Something-Something V1 class names in id order.

    Args:
        labels_file (str): ``something-something-v1-labels.csv``, one class name per line.
        class_order (str): ``'file'``: ids follow the labels file's line order (MMAction2's
            convention); ``'sorted'``: ids follow the sorted names (TSM-style list builders, and
            the released MotionSqueeze checkpoints). Defaults to ``'file'``.
    """
    if class_order not in CLASS_ORDERS:
        raise ValueError(f'class_order must be one of {CLASS_ORDERS}, got {class_order!r}')
    names = read_class_names(labels_file)
    return sorted(names) if class_order == 'sorted' else names


def sthv1_file_list(labels_file: str,
                    split_file: str,
                    frames_root: str,
                    skip_missing: bool = False,
                    class_order: str = 'file') -> FileList:
    """Something-Something V1 ``id;label`` CSV -> ``frame_dir total_frames label`` lines.

    Args:
        labels_file (str): ``something-something-v1-labels.csv``, one class name per line.
        split_file (str): ``something-something-v1-{train,validation}.csv``.
        frames_root (str): Folder with one frame folder (``00001.jpg``...) per video id.
        skip_missing (bool): Leave out ids whose frame folder is missing or empty.
        class_order (str): How classes are numbered, see :func:`sthv1_classes`.
    """
    classes = {name: index for index, name in enumerate(sthv1_classes(labels_file, class_order))}
    lines, skipped = [], []
    for number, line in _read_lines(split_file):
        video_id, sep, name = line.partition(';')
        if not sep or not video_id.strip().isdigit():
            raise AnnotationError(split_file, number, f'expected "id;label", got {line!r}')
        if name not in classes:
            raise AnnotationError(split_file, number, f'unknown label {name!r}')
        video_id = video_id.strip()
        frame_dir = osp.join(frames_root, video_id)
        frames = len([f for f in os.listdir(frame_dir) if f.endswith('.jpg')]) if osp.isdir(
            frame_dir) else 0
        if frames == 0:
            _missing(frame_dir, split_file, number, 'frame folder', skip_missing, skipped)
            continue
        lines.append(f'{video_id} {frames} {classes[name]}')
    return FileList(lines, skipped)


def sthv2_file_list(labels_file: str,
                    split_file: str,
                    video_root: Optional[str] = None,
                    video_ext: str = 'webm',
                    skip_missing: bool = False) -> FileList:
    """Something-Something V2 JSON -> ``video label`` lines.

    Args:
        labels_file (str): ``something-something-v2-labels.json``, ``{template: "id"}``.
        split_file (str): ``something-something-v2-{train,validation}.json``, a list of
            ``{"id", "template", ...}``; the class is the template without its brackets.
        video_root (str, optional): If given, every video must exist there.
        video_ext (str): Video file extension. Defaults to ``'webm'``.
        skip_missing (bool): Leave out entries whose video is missing.
    """
    classes = {name: index for index, name in enumerate(read_class_names(labels_file))}
    lines, skipped = [], []
    for number, item in _json_array(split_file):
        if not isinstance(item, dict) or 'id' not in item or 'template' not in item:
            raise AnnotationError(split_file, number, 'expected an object with "id" and "template"')
        name = item['template'].replace('[', '').replace(']', '')
        if name not in classes:
            raise AnnotationError(split_file, number, f'unknown template {item["template"]!r}')
        video = f'{item["id"]}.{video_ext}'
        if video_root is not None and not osp.isfile(osp.join(video_root, video)):
            _missing(osp.join(video_root, video), split_file, number, 'video', skip_missing, skipped)
            continue
        lines.append(f'{video} {classes[name]}')
    return FileList(lines, skipped)


def kinetics_classes(csv_file: str) -> List[str]:
    """The sorted class names of a Kinetics CSV (use the train CSV; ids follow this order)."""
    return sorted({row['label'] for _, row in _kinetics_rows(csv_file)})


def _kinetics_rows(csv_file: str) -> Iterator[Tuple[int, Dict[str, str]]]:
    with open(csv_file, encoding='utf-8', newline='') as f:
        reader = csv.DictReader(f)
        needed = {'label', 'youtube_id', 'time_start', 'time_end'}
        if not needed <= set(reader.fieldnames or ()):
            raise AnnotationError(csv_file, 1, f'header must contain {sorted(needed)}, got '
                                  f'{reader.fieldnames}')
        for row in reader:
            if None in row or any(row[key] is None for key in needed):
                raise AnnotationError(csv_file, reader.line_num,
                                      f'expected {len(reader.fieldnames)} fields')
            yield reader.line_num, row


def kinetics_file_list(csv_file: str,
                       classes: Sequence[str],
                       video_root: Optional[str] = None,
                       skip_missing: bool = False) -> FileList:
    """Kinetics CSV -> ``{youtube_id}_{start:06d}_{end:06d}.mp4 label`` lines.

    Args:
        csv_file (str): ``train.csv``/``validate.csv`` with ``label,youtube_id,time_start,
            time_end,...`` columns.
        classes (Sequence[str]): Class names in id order, see :func:`kinetics_classes`.
        video_root (str, optional): If given, every video must exist there.
        skip_missing (bool): Leave out rows whose video is missing (YouTube deletions).
    """
    index = {name: i for i, name in enumerate(classes)}
    lines, skipped = [], []
    for number, row in _kinetics_rows(csv_file):
        if row['label'] not in index:
            raise AnnotationError(csv_file, number, f'unknown label {row["label"]!r}')
        try:
            start, end = int(float(row['time_start'])), int(float(row['time_end']))
        except ValueError:
            raise AnnotationError(csv_file, number, f'bad time_start/time_end '
                                  f'{row["time_start"]!r}/{row["time_end"]!r}') from None
        if not row['youtube_id'] or end <= start:
            raise AnnotationError(csv_file, number, 'empty youtube_id or time_end <= time_start')
        video = f'{row["youtube_id"]}_{start:06d}_{end:06d}.mp4'
        if video_root is not None and not osp.isfile(osp.join(video_root, video)):
            _missing(osp.join(video_root, video), csv_file, number, 'video', skip_missing, skipped)
            continue
        lines.append(f'{video} {index[row["label"]]}')
    return FileList(lines, skipped)


def hmdb51_classes(split_dir: str, split: int = 1) -> List[str]:
    """The sorted HMDB-51 class names of a split's ``<class>_test_split<k>.txt`` files (id order)."""
    if split not in (1, 2, 3):
        raise ValueError(f'HMDB-51 has splits 1, 2 and 3, got {split}')
    pattern = re.compile(rf'^(.+)_test_split{split}\.txt$')
    names = sorted(m.group(1) for m in map(pattern.match, os.listdir(split_dir)) if m)
    if not names:
        raise FileNotFoundError(f'no *_test_split{split}.txt files in {split_dir}')
    return names


def hmdb51_file_lists(split_dir: str,
                      split: int,
                      video_root: Optional[str] = None,
                      skip_missing: bool = False) -> Tuple[FileList, FileList]:
    """HMDB-51 ``<class>_test_split<k>.txt`` files -> train and test ``class/video label`` lines.

    Each split file lists ``video.avi tag`` with tag 1 (train), 2 (test) or 0 (unused). Class ids
    follow the sorted class names.

    Args:
        split_dir (str): Folder with the 153 official split files.
        split (int): 1, 2 or 3.
        video_root (str, optional): If given, every used video must exist at
            ``video_root/<class>/<video>``.
        skip_missing (bool): Leave out entries whose video is missing.
    """
    train, test = FileList([], []), FileList([], [])
    for label, class_name in enumerate(hmdb51_classes(split_dir, split)):
        path = osp.join(split_dir, f'{class_name}_test_split{split}.txt')
        for number, line in _read_lines(path):
            fields = line.split()
            if len(fields) != 2 or fields[1] not in ('0', '1', '2'):
                raise AnnotationError(path, number, f'expected "video tag" with tag 0, 1 or 2, got '
                                      f'{line!r}')
            if fields[1] == '0':
                continue
            video = f'{class_name}/{fields[0]}'
            target = train if fields[1] == '1' else test
            if video_root is not None and not osp.isfile(osp.join(video_root, video)):
                _missing(osp.join(video_root, video), path, number, 'video', skip_missing,
                         target.skipped)
                continue
            target.lines.append(f'{video} {label}')
    return train, test
