"""Free-text answer benchmark (``make bench-answers``): the normaliser on ``bench/answers/answers.csv``.

The evaluation set holds answers to "How did you hear about us?" / "Hvor hørte du om oss?" shaped like real
ones (Norwegian and English, typos, compounds, paid and organic words, gibberish), each labelled with the
channel a person would choose; answers no channel fits are labelled ``Other`` (the service's unmatched
channel: kept verbatim and listed for review). Column ``split``: ``tune`` (phrases and matching may be
adjusted while looking at its failures) or ``holdout`` (about a third, chosen by a hash of the text before any
tuning; its failures are counted, never listed).

Each answer goes through the function /ask and the API use for free text with no option chosen
(``AnswerBook.channel`` with the configured phrases and no analysts' rules; ``Matcher.match`` for the
phrase that decided it). Printed: accuracy per channel and overall for each split, the confusion list of
the tune set (text, expected, got, matched phrase), and how many gibberish answers (``Other``) were mapped
to a channel.

Target: overall accuracy >= 95 % on each split and no gibberish mapped to a channel (PASS / MISS, reported
and not failed). Results are also written to ``bench/out/answers.json``.

Usage::

    .venv/bin/python bench/answers/run.py [--set bench/answers/answers.csv] [--out bench/out/answers.json]
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tracker.config import load_settings
from tracker.selfreports.answers import OTHER, with_answers

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SET = ROOT / "bench" / "answers" / "answers.csv"
DEFAULT_OUT = ROOT / "bench" / "out" / "answers.json"
TARGET = 0.95
SPLITS = ("tune", "holdout")


def load_set(path: Path) -> list[dict[str, str]]:
    """The rows of the evaluation set (text, channel, split)."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows, start=2):
        if row.get("split") not in SPLITS or not row.get("channel"):
            raise SystemExit(f"{path}:{i}: needs a channel and split tune or holdout")
    return rows


def evaluate(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Each row with what the service makes of its text: ``got``, ``phrase`` and ``score``."""
    book = with_answers(load_settings()).answers
    matcher = book.matcher()
    out = []
    for row in rows:
        got = book.channel(None, row["text"], matcher)
        found = matcher.match(row["text"])
        out.append({**row, "got": got, "phrase": found.phrase if found else None,
                    "score": found.score if found else None})
    return out


def summary(results: list[dict[str, Any]], split: str) -> dict[str, Any]:
    rows = [r for r in results if r["split"] == split]
    total, right = Counter(r["channel"] for r in rows), Counter(r["channel"] for r in rows if r["got"] == r["channel"])
    gibberish = [r for r in rows if r["channel"] == OTHER]
    mapped = [r for r in gibberish if r["got"] != OTHER]
    accuracy = sum(right.values()) / len(rows) if rows else 0.0
    return {
        "answers": len(rows), "correct": sum(right.values()), "accuracy": accuracy,
        "per_channel": {ch: {"answers": total[ch], "correct": right[ch], "accuracy": right[ch] / total[ch]}
                        for ch in sorted(total)},
        "gibberish": len(gibberish), "gibberish_mapped": len(mapped),
        "target": "PASS" if accuracy >= TARGET and not mapped else "MISS",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    results = evaluate(load_set(args.set))
    summaries = {split: summary(results, split) for split in SPLITS}
    where = args.set.relative_to(ROOT) if args.set.is_relative_to(ROOT) else args.set
    print(f"free-text answers: {len(results)} in {where}")
    channels = sorted({r["channel"] for r in results})
    print(f"{'channel':<16}" + "".join(f"{split:>20}" for split in SPLITS))
    for ch in channels:
        cells = []
        for split in SPLITS:
            c = summaries[split]["per_channel"].get(ch)
            cells.append(f"{c['correct']:>4}/{c['answers']:<4} {c['accuracy']:>7.1%}" if c else f"{'-':>16}")
        print(f"{ch:<16}" + "".join(f"{cell:>20}" for cell in cells))
    print(f"{'overall':<16}" + "".join(
        f"{summaries[s]['correct']:>4}/{summaries[s]['answers']:<4} {summaries[s]['accuracy']:>7.1%}".rjust(20)
        for s in SPLITS))
    wrong = [r for r in results if r["split"] == "tune" and r["got"] != r["channel"]]
    print(f"\nconfusion list (tune set, {len(wrong)}):")
    if wrong:
        print(f"  {'text':<40} {'expected':<16} {'got':<16} matched_phrase")
        for r in wrong:
            phrase = f"{r['phrase']} ({r['score']:.0f})" if r["phrase"] else "-"
            print(f"  {r['text']:<40} {r['channel']:<16} {r['got']:<16} {phrase}")
    holdout_wrong = sum(1 for r in results if r["split"] == "holdout" and r["got"] != r["channel"])
    print(f"(holdout set: {holdout_wrong} wrong, not listed)")
    print()
    for split in SPLITS:
        s = summaries[split]
        print(f"{split}: accuracy {s['accuracy']:.1%} (target >= {TARGET:.0%}), gibberish mapped to a channel "
              f"{s['gibberish_mapped']}/{s['gibberish']} (target 0): {s['target']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "set": str(args.set), "target": TARGET, "splits": summaries,
        "tune_confusion": [{k: r[k] for k in ("text", "channel", "got", "phrase", "score")} for r in wrong],
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
