"""Builds answer_equivalence.jsonl: the external answer-equivalence suite of tests/test_verifier_suite.py.

    python tests/data/build_answer_equivalence.py PATH/TO/Math-Verify > tests/data/answer_equivalence.jsonl

Sources:

1. math-verify's own test suite (https://github.com/huggingface/Math-Verify, MIT License,
   commit 5d148cfaaf99214c2e4ffb4bc497ab042c592a7a): every ``(gold, pred, expected)`` case of
   tests/test_all.py, test_boxed.py, test_numina_cases.py, test_open_thoughts.py,
   test_yujianll.py run with default options. lead_lite judges the final ``\\boxed{}`` of a
   completion, so a prediction without one is boxed when it is a bare expression and left out
   when it is prose (math-verify then finds the answer in free text, which lead_lite does not
   do); cases with non-default options (precision, strictness) and prose golds are left out.
2. Golds in the formats of MATH, AIME and the GRPO-LEAD stage files (DeepScaleR rows), written
   here with answers and labels.

Each row: gold, completion, expected (1 correct / 0 not), source; ``departs`` (why lead_lite
gives the other verdict on purpose) where it does.
"""

import ast
import json
import re
import subprocess
import sys

COMMIT = "5d148cfaaf99214c2e4ffb4bc497ab042c592a7a"
FILES = ["test_all", "test_boxed", "test_numina_cases", "test_open_thoughts", "test_yujianll"]

DEPARTS = {  # (gold prefix, completion suffix) -> why lead_lite's verdict differs on purpose
    ("10455", "I hope it is correct."): "the final answer is not boxed; lead_lite reads the last box (255)",
    ("$\\\\boxed{35 cm}", "{35 cm,4}}"): "boxes separated by other text are separate answers: the gold is 4",
    ("(3, 3), (1, 1)", "\\boxed{(1, 1)}$$"): "words between two boxes: only the last box, (1, 1), is the answer",
    ("y_{1}=-2 x^{2}", "- 2} \\) "): "words between two boxes: only the last box is the answer",
    ("\\boxed{1} papers and", "\\boxed{1,2}$"): "a gold's boxes separated by words are never merged: the gold is 2",
    ("1 - \\frac{1}{\\mathrm{e}}", "\\boxed{1 + \\frac{1}{\\mathrm{e}}}"): "1 + 1/e is not 1 - 1/e (a wrong label)",
    ("1000", "\\boxed{1 000}"): "math-verify's label is for a number in prose; a boxed 1 000 is two numbers to it, "
                               "and to lead_lite",
    ("1000.99", "\\boxed{1000,99}"): "math-verify's label is for a number in prose; in a box a comma that is not a "
                                    "thousands separator separates items, for math-verify and lead_lite alike",
    ("1,22", "\\boxed{1.22}"): "math-verify's label is for a number in prose; a gold 1,22 is the list 1, 22 to "
                              "math-verify's boxed reading and to lead_lite",
}

HAND = [  # (gold, completion, expected, format)
    (r"\frac{\sqrt{3}}{2}", r"\boxed{\frac{\sqrt3}{2}}", 1, "MATH"),
    (r"\frac{\sqrt{3}}{2}", r"\boxed{\frac{1}{2}\sqrt{3}}", 1, "MATH"),
    (r"\frac{\sqrt{3}}{2}", r"\boxed{\frac{\sqrt{2}}{2}}", 0, "MATH"),
    (r"10\%", r"\boxed{10}", 1, "MATH"),
    (r"10\%", r"\boxed{10\%}", 1, "MATH"),
    (r"10\%", r"\boxed{11\%}", 0, "MATH"),
    (r"\text{(B)}", r"\boxed{\text{(B)}}", 1, "MATH"),
    (r"\text{(B)}", r"\boxed{\text{(C)}}", 0, "MATH"),
    (r"90^\circ", r"\boxed{90^{\circ}}", 1, "MATH"),
    (r"90^\circ", r"\boxed{45^\circ}", 0, "MATH"),
    (r"(-\infty, 3]", r"\boxed{(-\infty,3]}", 1, "MATH"),
    (r"(-\infty, 3]", r"\boxed{(-\infty,3)}", 0, "MATH"),
    (r"1, 2", r"\boxed{2, 1}", 1, "MATH"),
    (r"1, 2", r"\boxed{1}", 0, "MATH"),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\boxed{\begin{pmatrix}1\\2\end{pmatrix}}", 1, "MATH"),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\boxed{\begin{pmatrix}2\\1\end{pmatrix}}", 0, "MATH"),
    (r"x^2+2x+1", r"\boxed{(x+1)^2}", 1, "MATH"),
    (r"x^2+2x+1", r"\boxed{(x-1)^2}", 0, "MATH"),
    (r"\dfrac{9}{2}", r"\boxed{4.5}", 1, "MATH"),
    (r"\dfrac{9}{2}", r"\boxed{\frac{9}{2}}", 1, "MATH"),
    (r"5\sqrt{2}", r"\boxed{\sqrt{50}}", 1, "MATH"),
    (r"5\sqrt{2}", r"\boxed{7.07}", 0, "MATH"),
    (r"2\pi", r"\boxed{6.28}", 0, "MATH"),
    (r"y = 2x + 3", r"\boxed{y=2x+3}", 1, "MATH"),
    (r"-\frac{1}{2}", r"\boxed{-0.5}", 1, "MATH"),
    (r"\frac{1}{2}", r"\boxed{-\frac{1}{2}}", 0, "MATH"),
    (r"\text{Tuesday}", r"\boxed{\text{Tuesday}}", 1, "MATH"),
    (r"\text{Tuesday}", r"\boxed{\text{Monday}}", 0, "MATH"),
    (r"\frac{1}{2}", r"\boxed{\frac{2}{4}}", 1, "MATH"),
    (r"\frac{1}{2}", r"\boxed{0.5000}", 1, "MATH"),
    ("4", r"\boxed{004}", 1, "AIME"),
    ("25", r"\boxed{025}", 1, "AIME"),
    ("25", r"\boxed{52}", 0, "AIME"),
    ("0", r"\boxed{0}", 1, "AIME"),
    ("996", r"so \boxed{995}. Wait, recheck: 996 fits. </think> The answer is \boxed{996}.", 1, "AIME"),
    ("996", r"\boxed{996} or maybe \boxed{995}", 0, "AIME"),
    ("100", r"\boxed{10^2}", 1, "AIME"),
    ("7", r"\boxed{7} \boxed{8}", 0, "AIME"),
    ("7", r"\boxed{7} and then \boxed{unclosed", 1, "AIME"),
    (r"\frac{1}{3000000}", r"\boxed{0.0}", 0, "stage"),
    (r"\frac{1}{3000000}", r"\boxed{0}", 0, "stage"),
    (r"\frac{1}{3000000}", r"\boxed{\frac{1}{3 \times 10^6}}", 1, "stage"),
    ("0,111", r"\boxed{111}", 0, "stage"),
    ("0,111", r"\boxed{0.111}", 1, "stage"),
    ("-0,250", r"\boxed{-0.25}", 1, "stage"),
    ("-0,250", r"\boxed{-250}", 0, "stage"),
    ("1,2", r"\boxed{(2,1)}", 0, "stage"),
    (r"2^{2023}-1", r"\boxed{2^{2023}-1}", 1, "stage"),
    (r"2^{2023}-1", r"\boxed{2^{2023}}", 0, "stage"),
    (r"\sqrt[3]{2}", r"\boxed{2^{1/3}}", 1, "stage"),
    (r"\frac{\pi}{4}", r"\boxed{\frac{\pi}{4}}", 1, "stage"),
    (r"\frac{\pi}{4}", r"\boxed{\frac{\pi}{3}}", 0, "stage"),
    (r"3+2\sqrt{2}", r"\boxed{2\sqrt{2}+3}", 1, "stage"),
    (r"3+2\sqrt{2}", r"\boxed{3-2\sqrt{2}}", 0, "stage"),
    (r"1 - \frac{1}{\mathrm{e}}", r"\boxed{1-e^{-1}}", 1, "stage"),
    ("12:00", r"\boxed{12:00}", 1, "stage"),
    ("(1, -2)", r"\boxed{(1,-2)}", 1, "stage"),
    ("(1, -2)", r"\boxed{(-2,1)}", 0, "stage"),
    ("1000", r"\boxed{1,000}", 1, "stage"),
    ("1,2,3", r"\boxed{1},\boxed{2},\boxed{3}", 1, "stage"),
    ("1,2,3", r"\boxed{123}", 0, "stage"),
    ("12", r"\boxed{10!!!!!}", 0, "stage"),
    ("12", r"\boxed{2^{2^{100}}}", 0, "stage"),
    ("2", r"\boxed{\sqrt{4}}", 1, "stage"),
    ("2", r"The answer is $\boxed{2}$.", 1, "stage"),
]


def _strip_math(s: str) -> str:
    s = s.strip()
    for a, b in (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)")):
        if s.startswith(a) and s.endswith(b) and len(s) > len(a) + len(b):
            return s[len(a) : -len(b)].strip()
    return s


def _prose(s: str) -> bool:
    t = re.sub(r"\\text\{[^}]*\}", " ", s)
    t = re.sub(r"\\[A-Za-z]+", " ", t)
    return bool(re.search(r"[A-Za-z]{3,}[ ,.:]+[A-Za-z]{3,}", t)) or "$" in t or "\n" in t


def math_verify_cases(repo: str):
    for name in FILES:
        source = subprocess.run(["git", "-C", repo, "show", f"{COMMIT}:tests/{name}.py"], check=True,
                                capture_output=True, text=True).stdout
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef):
                continue
            for dec in node.decorator_list:
                if not (isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "parametrize"):
                    continue
                names = [n.strip() for n in ast.literal_eval(dec.args[0]).split(",")]
                if names[:2] != ["gold", "pred"] or len(names) != 3:
                    continue  # cases with non-default options
                try:
                    rows = ast.literal_eval(dec.args[1])
                except ValueError:
                    continue  # computed cases
                for gold, pred, expected in rows:
                    if "\\boxed" not in gold:
                        gold = _strip_math(gold)
                        if _prose(gold) or len(gold) > 300:
                            continue
                    if "\\boxed" not in pred:
                        pred = _strip_math(pred)
                        if _prose(pred):
                            continue
                        pred = "\\boxed{" + pred + "}"
                    yield gold, pred, int(expected), f"math-verify tests/{name}.py::{node.name}"


def main() -> None:
    rows = []
    for gold, completion, expected, source in math_verify_cases(sys.argv[1]):
        row = {"gold": gold, "completion": completion, "expected": expected, "source": source}
        for (g, c), why in DEPARTS.items():
            if gold.startswith(g) and completion.endswith(c):
                row["departs"] = why
        rows.append(row)
    for gold, completion, expected, fmt in HAND:
        rows.append({"gold": gold, "completion": completion, "expected": expected,
                     "source": f"lead_lite: a gold in the {fmt} format"})
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
