"""Regenerate docs/benchmarks.md's tables from benchmarks/results/backbones.jsonl.

    python tools/analysis_tools/benchmark_tables.py [--check]

Which lines are shown is said in ``mmfreq/analysis/benchmark_tables.py``.
``--check`` changes nothing and exits with 1 when the document differs
from what the lines give.
"""
import argparse
import sys
from pathlib import Path

from mmfreq.analysis.benchmark_tables import load_records, render_tables, update_document

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--results', default=str(ROOT / 'benchmarks/results/backbones.jsonl'))
    parser.add_argument('--doc', default=str(ROOT / 'docs/benchmarks.md'))
    parser.add_argument('--check', action='store_true',
                        help='only say whether the document is up to date')
    args = parser.parse_args()
    doc = Path(args.doc)
    text = doc.read_text()
    updated = update_document(text, render_tables(load_records(args.results)))
    if args.check:
        if updated != text:
            print(f'{doc} is out of date with {args.results}: run '
                  'python tools/analysis_tools/benchmark_tables.py', file=sys.stderr)
            return 1
        print(f'{doc} is up to date')
        return 0
    if updated != text:
        doc.write_text(updated)
        print(f'rewrote the tables of {doc}')
    else:
        print(f'{doc} was up to date')
    return 0


if __name__ == '__main__':
    sys.exit(main())
