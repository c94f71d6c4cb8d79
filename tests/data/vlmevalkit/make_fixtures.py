"""Write the VLMEvalKit prediction fixtures in this folder (see README.md: NOT produced by
VLMEvalKit itself; built in the format its code writes).

Run from the repository root: .venv/bin/python tests/data/vlmevalkit/make_fixtures.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas

HERE = Path(__file__).parent
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "logicvista"

# Responses written for this fixture (not model output): a letter, a letter set, prose only.
PREDICTIONS = {
    "v1_0": "The dot stays in place while the square moves one step, so the answer is C.",
    "v1_1": "Both A and C share the rule of the green group: **A, C**",
    "v1_2": "The second and the fourth proposals follow the diagram's rule.",
    "v1_3": "Answer: B",
}


def rows() -> list[dict]:
    """Rows as VLMEvalKit's LogicVista TSV holds them (index, question, answer, skill, ...),
    the image column dropped and ``prediction`` added, as ``infer_data_job`` does."""
    data = json.loads((DATA / "dataset.json").read_text("utf-8"))
    out = []
    for position, (key, prediction) in enumerate(PREDICTIONS.items()):
        item = data[key]
        out.append({"index": position, "question": item["question"], "answer": item["answer"],
                    "skill": item["skill"], "prediction": prediction})
    return out


def main() -> None:
    frame = pandas.DataFrame(rows())
    # vlmeval.smp.file.dump: xlsx through pandas.ExcelWriter (VLMEvalKit asks for the
    # xlsxwriter engine; openpyxl writes the same workbook format), tsv with QUOTE_ALL, json as
    # a list of records with indent 4.
    with pandas.ExcelWriter(HERE / "tiny_LogicVista.xlsx", engine="openpyxl") as writer:
        frame.to_excel(writer, index=False)
    frame.to_csv(HERE / "tiny_LogicVista.tsv", sep="\t", index=False, encoding="utf-8",
                 quoting=csv.QUOTE_ALL)
    with open(HERE / "tiny_LogicVista.json", "w") as handle:
        json.dump(frame.to_dict("records"), handle, indent=4, ensure_ascii=False)


if __name__ == "__main__":
    main()
