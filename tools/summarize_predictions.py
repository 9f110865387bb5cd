"""Print top-1 / top-5 / mean class accuracy of a ``tools/test.py --dump`` results file.

    python tools/summarize_predictions.py RESULTS.pkl [--train-results TRAIN.pkl] [--label-map FILE]
        [--start-time UNIX_SECONDS]

RESULTS.pkl holds the held-out predictions; TRAIN.pkl, if given, predictions on training clips,
for the train/val gap.
"""
import argparse
import time

from msnet_mmaction.analysis.prediction_accuracy import accuracy_report, load_predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('results', help='a --dump file of tools/test.py')
    parser.add_argument('--train-results', help='a --dump file of the same model on training clips')
    parser.add_argument('--label-map', help='class names, one per line')
    parser.add_argument('--start-time', type=float, help='job start (Unix seconds), for wall time')
    args = parser.parse_args()
    scores, labels = load_predictions(args.results)
    report = accuracy_report(scores, labels)
    classes = scores.shape[1]
    if args.label_map:
        with open(args.label_map) as f:
            classes = len([line for line in f if line.strip()])
    print(f'\nHeld-out clips: {len(labels)}, classes: {classes} (chance top-1 {100 / classes:.1f} %)')
    print(f'top-1 {100 * report["top1"]:.2f} %   top-5 {100 * report["top5"]:.2f} %   '
          f'mean class {100 * report["mean_class"]:.2f} %')
    if args.train_results:
        train = accuracy_report(*load_predictions(args.train_results))
        print(f'training clips: top-1 {100 * train["top1"]:.2f} %   '
              f'(train - held-out gap {100 * (train["top1"] - report["top1"]):+.2f} points)')
    if args.start_time is not None:
        print(f'wall time {time.time() - args.start_time:.0f} s')


if __name__ == '__main__':
    main()
